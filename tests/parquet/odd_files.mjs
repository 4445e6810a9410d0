// Odd and hostile Parquet files, crafted byte by byte as other writers lay them out, each read by
// DuckDB and by structflow (parquet_tool dump):
//
//   node odd_files.mjs <parquet_tool> <tmpdir>
//
// Where DuckDB reads a file, structflow must read it too, with the same values. Where a file is
// damaged (a truncated footer, a file cut short), both must refuse it, and structflow's message
// must name the file and say what is wrong. The files are written here with a small Thrift
// compact-protocol encoder of our own (the Parquet format spec's parquet.thrift field ids), not
// with structflow's writer, so that a shared misreading of the format cannot hide.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { makeHarness } from './compare.mjs';

const require = createRequire(import.meta.url);
const { DuckDBInstance } = require('@duckdb/node-api');

const [tool, tmp] = process.argv.slice(2);
if (!tool || !tmp) {
  console.error('usage: node odd_files.mjs <parquet_tool> <tmpdir>');
  process.exit(2);
}
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });

// ---- Thrift compact protocol (writing only) ---------------------------------------------------
const TT = { BOOL: 1, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 };
const i32 = (v) => ({ t: TT.I32, v });
const i64 = (v) => ({ t: TT.I64, v });
const bin = (v) => ({ t: TT.BINARY, v });
const list = (et, items) => ({ t: TT.LIST, et, items });
// fields: [[id, value], ...] with undefined values left out.
const struct = (fields) => ({ t: TT.STRUCT, fields });

function varint(out, n) {
  n = BigInt(n);
  while (n >= 0x80n) { out.push(Number(n & 0x7fn) | 0x80); n >>= 7n; }
  out.push(Number(n));
}
const zigzag = (n) => { n = BigInt(n); return n >= 0n ? n << 1n : ((-n) << 1n) - 1n; };

function writeValue(out, val) {
  switch (val.t) {
    case TT.I32: case TT.I64: varint(out, zigzag(val.v)); break;
    case TT.BINARY: { const b = Buffer.from(val.v); varint(out, b.length); out.push(...b); break; }
    case TT.LIST:
      if (val.items.length < 15) out.push((val.items.length << 4) | val.et);
      else { out.push(0xf0 | val.et); varint(out, val.items.length); }
      for (const item of val.items) writeValue(out, item);
      break;
    case TT.STRUCT: {
      let last = 0;
      for (const [id, v] of val.fields) {
        if (v === undefined) continue;
        const type = v.t === TT.BOOL ? (v.v ? 1 : 2) : v.t;
        if (id > last && id - last <= 15) out.push(((id - last) << 4) | type);
        else { out.push(type); varint(out, zigzag(id)); }
        last = id;
        if (v.t !== TT.BOOL) writeValue(out, v);
      }
      out.push(0);
      break;
    }
    default: throw new Error('no writer for thrift type ' + val.t);
  }
}
const thrift = (val) => { const out = []; writeValue(out, val); return Buffer.from(out); };

// ---- Parquet pieces ---------------------------------------------------------------------------
const Type = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 };
const Rep = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 };
const Conv = { UTF8: 0, LIST: 3 };
const Enc = { PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3, BIT_PACKED: 4, RLE_DICTIONARY: 8 };
const Codec = { UNCOMPRESSED: 0, GZIP: 2 };

// A SchemaElement: a leaf when `type` is set, a group with `children` otherwise.
const leaf = (name, type, rep, conv) => ({ name, type, rep, conv });
const group = (name, rep, conv, children) => ({ name, rep, conv, children });

function flattenSchema(root) {
  const out = [];
  const walk = (e) => {
    out.push(struct([[1, e.type === undefined ? undefined : i32(e.type)],
      [3, e.rep === undefined ? undefined : i32(e.rep)], [4, bin(e.name)],
      [5, e.children ? i32(e.children.length) : undefined],
      [6, e.conv === undefined ? undefined : i32(e.conv)]]));
    for (const c of e.children || []) walk(c);
  };
  walk(root);
  return out;
}

const bitWidth = (max) => (max <= 0 ? 0 : 32 - Math.clz32(max));

// RLE/bit-packed hybrid, as RLE runs (one per stretch of equal values).
function rleRuns(values, width) {
  const out = [];
  const bytes = Math.ceil(width / 8);
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    varint(out, (j - i) << 1);
    for (let k = 0; k < bytes; k++) out.push((values[i] >> (8 * k)) & 0xff);
    i = j;
  }
  return Buffer.from(out);
}

// RLE/bit-packed hybrid, as one bit-packed run (values padded to a multiple of 8).
function bitPacked(values, width) {
  const groups = Math.ceil(values.length / 8);
  const out = [];
  varint(out, (groups << 1) | 1);
  const bits = new Uint8Array(groups * width);
  values.forEach((v, i) => {
    for (let b = 0; b < width; b++) {
      if ((v >> b) & 1) bits[(i * width + b) >> 3] |= 1 << ((i * width + b) & 7);
    }
  });
  return Buffer.concat([Buffer.from(out), Buffer.from(bits)]);
}

// Levels of a v1 data page: 4-byte length, then the runs. Nothing when the maximum level is 0.
function levels(values, max) {
  if (max === 0) return Buffer.alloc(0);
  const runs = rleRuns(values, bitWidth(max));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(runs.length);
  return Buffer.concat([len, runs]);
}

function plain(type, values) {
  const parts = values.map((v) => {
    switch (type) {
      case Type.INT32: { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; }
      case Type.INT64: { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return b; }
      case Type.DOUBLE: { const b = Buffer.alloc(8); b.writeDoubleLE(v); return b; }
      case Type.BYTE_ARRAY: {
        const s = Buffer.from(v); const b = Buffer.alloc(4); b.writeUInt32LE(s.length);
        return Buffer.concat([b, s]);
      }
      default: throw new Error('no plain encoder for type ' + type);
    }
  });
  return Buffer.concat(parts);
}

// A page: header + body. `codec` compresses the body (GZIP here: node has no Snappy).
function page(kind, body, { numValues, encoding = Enc.PLAIN, codec = Codec.UNCOMPRESSED }) {
  const stored = codec === Codec.GZIP ? zlib.gzipSync(body) : body;
  const header = struct([
    [1, i32(kind === 'dict' ? 2 : 0)], [2, i32(body.length)], [3, i32(stored.length)],
    [5, kind === 'data' ? struct([[1, i32(numValues)], [2, i32(encoding)], [3, i32(Enc.RLE)], [4, i32(Enc.RLE)]]) : undefined],
    [7, kind === 'dict' ? struct([[1, i32(numValues)], [2, i32(encoding)]]) : undefined],
  ]);
  return { kind, numValues, bytes: Buffer.concat([thrift(header), stored]) };
}

// A v1 data page of one leaf: levels (rep, def) and the encoded non-null values.
function dataPage({ rep = [], def = [], maxRep = 0, maxDef = 0, values, encoding = Enc.PLAIN, codec, n }) {
  const body = Buffer.concat([levels(rep, maxRep), levels(def, maxDef), values]);
  return page('data', body, { numValues: n ?? Math.max(rep.length, def.length), encoding, codec });
}

// Dictionary indices: a bit-width byte, then the hybrid runs.
const dictIndices = (indices, width, packed = false) =>
  Buffer.concat([Buffer.from([width]), packed ? bitPacked(indices, width) : rleRuns(indices, width)]);

// The whole file. rowGroups: [{ rows, chunks: [{ path, type, codec, pages, encodings,
// noDictOffset }] }]. `noDictOffset`: leave dictionary_page_offset unset and point
// data_page_offset at the dictionary page, as some older writers do.
function parquetFile(schema, rowGroups, { createdBy = 'structflow odd_files.mjs' } = {}) {
  const parts = [Buffer.from('PAR1')];
  let size = 4;
  const rgs = [];
  let total = 0;
  for (const rg of rowGroups) {
    const cols = [];
    let rgBytes = 0;
    for (const ch of rg.chunks) {
      const start = size;
      let dictOffset, dataOffset, numValues = 0;
      for (const p of ch.pages) {
        if (p.kind === 'dict') dictOffset = size;
        else { if (dataOffset === undefined) dataOffset = size; numValues += p.numValues; }
        parts.push(p.bytes);
        size += p.bytes.length;
      }
      if (dataOffset === undefined) dataOffset = size;
      if (ch.noDictOffset && dictOffset !== undefined) { dataOffset = dictOffset; dictOffset = undefined; }
      const chunkBytes = size - start;
      rgBytes += chunkBytes;
      const meta = struct([[1, i32(ch.type)],
        [2, list(TT.I32, (ch.encodings || [Enc.PLAIN, Enc.RLE]).map(i32))],
        [3, list(TT.BINARY, ch.path.map(bin))], [4, i32(ch.codec ?? Codec.UNCOMPRESSED)],
        [5, i64(numValues)], [6, i64(chunkBytes)], [7, i64(chunkBytes)], [9, i64(dataOffset)],
        [11, dictOffset === undefined ? undefined : i64(dictOffset)]]);
      cols.push(struct([[2, i64(start)], [3, meta]]));
    }
    rgs.push(struct([[1, list(TT.STRUCT, cols)], [2, i64(rgBytes)], [3, i64(rg.rows)]]));
    total += rg.rows;
  }
  const footer = thrift(struct([[1, i32(1)], [2, list(TT.STRUCT, flattenSchema(schema))],
    [3, i64(total)], [4, list(TT.STRUCT, rgs)], [6, bin(createdBy)]]));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(footer.length);
  parts.push(footer, len, Buffer.from('PAR1'));
  return Buffer.concat(parts);
}

// ---- the files --------------------------------------------------------------------------------
const files = [];  // { name, bytes, expect: 'read' | 'refuse', why: RegExp for our message }
const add = (name, bytes, expect, why) => files.push({ name, bytes, expect, why });

// 1. Dictionary pages as parquet-mr 1.x writes them with v1 pages: PLAIN_DICTIONARY in the
//    dictionary page and the data pages, two data pages sharing one dictionary (RLE runs in one,
//    a bit-packed run in the other), nulls among the values; a second row group whose chunk has
//    no dictionary_page_offset (data_page_offset points at the dictionary page); and a GZIP
//    chunk.
{
  const schema = group('schema', undefined, undefined, [
    leaf('id', Type.INT64, Rep.REQUIRED), leaf('name', Type.BYTE_ARRAY, Rep.OPTIONAL, Conv.UTF8),
    leaf('code', Type.INT32, Rep.OPTIONAL)]);
  const dictNames = ['alpha', 'beta', 'gamma'];
  const dictCodes = [7, -1, 2147483647];
  const mrEnc = [Enc.PLAIN_DICTIONARY, Enc.RLE, Enc.BIT_PACKED];
  const names = (pages, opts = {}) => ({ path: ['name'], type: Type.BYTE_ARRAY, encodings: mrEnc, pages, ...opts });
  const rg1 = { rows: 10, chunks: [
    { path: ['id'], type: Type.INT64, pages: [dataPage({ values: plain(Type.INT64, [...Array(10).keys()]), n: 10 })] },
    names([
      page('dict', plain(Type.BYTE_ARRAY, dictNames), { numValues: 3, encoding: Enc.PLAIN_DICTIONARY }),
      // rows 0-4: alpha, null, gamma, gamma, beta
      dataPage({ def: [1, 0, 1, 1, 1], maxDef: 1, values: dictIndices([0, 2, 2, 1], 2), encoding: Enc.PLAIN_DICTIONARY }),
      // rows 5-9: beta, alpha, null, null, gamma (bit-packed)
      dataPage({ def: [1, 1, 0, 0, 1], maxDef: 1, values: dictIndices([1, 0, 2], 2, true), encoding: Enc.PLAIN_DICTIONARY }),
    ]),
    { path: ['code'], type: Type.INT32, encodings: mrEnc, codec: Codec.GZIP, pages: [
      page('dict', plain(Type.INT32, dictCodes), { numValues: 3, encoding: Enc.PLAIN_DICTIONARY, codec: Codec.GZIP }),
      dataPage({ def: [1, 1, 1, 0, 1, 1, 1, 1, 1, 0], maxDef: 1, values: dictIndices([2, 1, 0, 0, 0, 1, 2, 2], 2), encoding: Enc.PLAIN_DICTIONARY, codec: Codec.GZIP }),
    ] },
  ] };
  const rg2 = { rows: 3, chunks: [
    { path: ['id'], type: Type.INT64, pages: [dataPage({ values: plain(Type.INT64, [10, 11, 12]), n: 3 })] },
    names([
      page('dict', plain(Type.BYTE_ARRAY, ['delta', 'epsilon']), { numValues: 2, encoding: Enc.PLAIN_DICTIONARY }),
      dataPage({ def: [1, 1, 0], maxDef: 1, values: dictIndices([1, 0], 1), encoding: Enc.PLAIN_DICTIONARY }),
    ], { noDictOffset: true }),
    { path: ['code'], type: Type.INT32, pages: [dataPage({ def: [0, 0, 1], maxDef: 1, values: plain(Type.INT32, [-5]) })] },
  ] };
  add('dictionary_parquet_mr', parquetFile(schema, [rg1, rg2], { createdBy: 'parquet-mr version 1.10.1 (build a89df8f9932b6ef6633d06069e50c9b7970bebd1)' }), 'read');
}

// 2. Nulls everywhere: every value of every column null, as Arrow writes an all-null chunk (an
//    empty dictionary page, then RLE_DICTIONARY pages holding only a bit-width byte), plain
//    pages with no values at all, and an all-null struct and list.
{
  const schema = group('schema', undefined, undefined, [
    leaf('a', Type.INT32, Rep.OPTIONAL), leaf('s', Type.BYTE_ARRAY, Rep.OPTIONAL, Conv.UTF8),
    leaf('d', Type.DOUBLE, Rep.OPTIONAL),
    group('st', Rep.OPTIONAL, undefined, [leaf('x', Type.INT32, Rep.OPTIONAL)]),
    group('l', Rep.OPTIONAL, Conv.LIST, [group('list', Rep.REPEATED, undefined, [leaf('element', Type.INT64, Rep.OPTIONAL)])]),
  ]);
  const zeros = (n) => Array(n).fill(0);
  const allNull = (maxDef, maxRep = 0) => dataPage({ def: zeros(6), rep: maxRep ? zeros(6) : [], maxDef, maxRep, values: Buffer.alloc(0) });
  add('nulls_everywhere', parquetFile(schema, [{ rows: 6, chunks: [
    { path: ['a'], type: Type.INT32, pages: [allNull(1)] },
    { path: ['s'], type: Type.BYTE_ARRAY, encodings: [Enc.PLAIN, Enc.RLE, Enc.RLE_DICTIONARY], pages: [
      page('dict', Buffer.alloc(0), { numValues: 0, encoding: Enc.PLAIN }),
      dataPage({ def: zeros(3), maxDef: 1, values: Buffer.from([0]), encoding: Enc.RLE_DICTIONARY }),
      dataPage({ def: zeros(3), maxDef: 1, values: Buffer.from([0]), encoding: Enc.RLE_DICTIONARY }),
    ] },
    { path: ['d'], type: Type.DOUBLE, pages: [allNull(1)] },
    { path: ['st', 'x'], type: Type.INT32, pages: [allNull(2)] },
    { path: ['l', 'list', 'element'], type: Type.INT64, pages: [allNull(3, 1)] },
  ] }], { createdBy: 'parquet-cpp-arrow version 14.0.1' }), 'read');
}

// 3. Nested lists in the layouts the format's backward-compatibility rules describe: the
//    standard 3-level list, parquet-mr's legacy 2-level list (`repeated int32 array`), a bare
//    repeated field with no LIST annotation, a list of lists, and the legacy list of structs
//    (a repeated group of several fields is the element). Rows: 5.
{
  const schema = group('schema', undefined, undefined, [
    group('std', Rep.OPTIONAL, Conv.LIST, [group('list', Rep.REPEATED, undefined, [leaf('element', Type.INT32, Rep.OPTIONAL)])]),
    group('legacy', Rep.OPTIONAL, Conv.LIST, [leaf('array', Type.INT32, Rep.REPEATED)]),
    leaf('bare', Type.INT32, Rep.REPEATED),
    group('nested', Rep.OPTIONAL, Conv.LIST, [group('list', Rep.REPEATED, undefined, [
      group('element', Rep.OPTIONAL, Conv.LIST, [group('list', Rep.REPEATED, undefined, [
        leaf('element', Type.BYTE_ARRAY, Rep.OPTIONAL, Conv.UTF8)])])])]),
    group('events', Rep.OPTIONAL, Conv.LIST, [group('array', Rep.REPEATED, undefined, [
      leaf('name', Type.BYTE_ARRAY, Rep.REQUIRED, Conv.UTF8), leaf('n', Type.INT32, Rep.OPTIONAL)])]),
  ]);
  const chunk = (p, type, rep, def, maxRep, maxDef, values) =>
    ({ path: p, type, pages: [dataPage({ rep, def, maxRep, maxDef, values })] });
  add('nested_lists', parquetFile(schema, [{ rows: 5, chunks: [
    // [1, 2], [], null, [null], [3]
    chunk(['std', 'list', 'element'], Type.INT32, [0, 1, 0, 0, 0, 0], [3, 3, 1, 0, 2, 3], 1, 3, plain(Type.INT32, [1, 2, 3])),
    // [4, 5], [], null, [6], [7, 8, 9]
    chunk(['legacy', 'array'], Type.INT32, [0, 1, 0, 0, 0, 0, 1, 1], [2, 2, 1, 0, 2, 2, 2, 2], 1, 2, plain(Type.INT32, [4, 5, 6, 7, 8, 9])),
    // [1], [], [2, 3], [], [4]
    chunk(['bare'], Type.INT32, [0, 0, 0, 1, 0, 0], [1, 0, 1, 1, 0, 1], 1, 1, plain(Type.INT32, [1, 2, 3, 4])),
    // [["a", "b"], []], null, [], [null, ["c"]], [[null]]
    chunk(['nested', 'list', 'element', 'list', 'element'], Type.BYTE_ARRAY, [0, 2, 1, 0, 0, 0, 1, 0], [5, 5, 3, 0, 1, 2, 5, 4], 2, 5, plain(Type.BYTE_ARRAY, ['a', 'b', 'c'])),
    // [{a, 1}, {b, null}], [], null, [{c, 3}], []
    chunk(['events', 'array', 'name'], Type.BYTE_ARRAY, [0, 1, 0, 0, 0, 0], [2, 2, 1, 0, 2, 1], 1, 2, plain(Type.BYTE_ARRAY, ['a', 'b', 'c'])),
    chunk(['events', 'array', 'n'], Type.INT32, [0, 1, 0, 0, 0, 0], [3, 2, 1, 0, 3, 1], 1, 3, plain(Type.INT32, [1, 3])),
  ] }], { createdBy: 'parquet-mr version 1.8.1 (build 4aba4dae7bb0d4edbcf7923ae1339f28fd3f7fcf)' }), 'read');
}

// 4. Zero row groups: a schema and nothing else (as Spark writes for an empty partition).
{
  const schema = group('schema', undefined, undefined, [
    leaf('id', Type.INT64, Rep.REQUIRED), leaf('s', Type.BYTE_ARRAY, Rep.OPTIONAL, Conv.UTF8),
    group('l', Rep.OPTIONAL, Conv.LIST, [group('list', Rep.REPEATED, undefined, [leaf('element', Type.INT32, Rep.OPTIONAL)])])]);
  add('zero_row_groups', parquetFile(schema, [], { createdBy: 'parquet-mr version 1.12.3 (build f8dced182c4c1fbdec6ccb3185537b5a01e6ed6b)' }), 'read');
  // An empty row group (0 rows, pages of no values) before a real one.
  const flat = group('schema', undefined, undefined, [leaf('id', Type.INT64, Rep.REQUIRED), leaf('s', Type.BYTE_ARRAY, Rep.OPTIONAL, Conv.UTF8)]);
  add('empty_row_group_first', parquetFile(flat, [
    { rows: 0, chunks: [
      { path: ['id'], type: Type.INT64, pages: [dataPage({ values: Buffer.alloc(0), n: 0 })] },
      { path: ['s'], type: Type.BYTE_ARRAY, pages: [dataPage({ def: [], maxDef: 1, values: Buffer.alloc(0), n: 0 })] }] },
    { rows: 2, chunks: [
      { path: ['id'], type: Type.INT64, pages: [dataPage({ values: plain(Type.INT64, [1, 2]), n: 2 })] },
      { path: ['s'], type: Type.BYTE_ARRAY, pages: [dataPage({ def: [1, 0], maxDef: 1, values: plain(Type.BYTE_ARRAY, ['x']) })] }] },
  ]), 'read');
}

// 5. Damaged files: a good file (DuckDB's own) cut or with its footer broken.
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const { results, check, duckRows, toolRows, compareRows } = makeHarness(con, tool);
{
  const good = path.join(tmp, 'duckdb_good.parquet');
  await con.run(`COPY (SELECT i AS id, 'row ' || i AS s, [i, i + 1] AS l FROM range(500) t(i)) TO '${good}' (FORMAT parquet)`);
  const g = fs.readFileSync(good);
  const footerLen = g.readUInt32LE(g.length - 8);
  const footerStart = g.length - 8 - footerLen;
  add('duckdb_good', g, 'read');
  // The last bytes lost (no closing magic).
  add('cut_tail', g.subarray(0, g.length - 3), 'refuse', /starts with the PAR1 magic but does not end with it.*cut short.*again/);
  // Only the first half of the file.
  add('cut_in_half', g.subarray(0, g.length >> 1), 'refuse', /starts with the PAR1 magic but does not end with it.*cut short.*again/);
  // The footer cut in the middle, with the length and magic still at the end: the length now
  // reaches back into the data pages.
  add('footer_cut_short', Buffer.concat([g.subarray(0, footerStart + (footerLen >> 1)), g.subarray(g.length - 8)]), 'refuse', /footer \(\d+ bytes of file metadata\) is corrupt: .*cut short.*again/);
  // A footer length larger than the file.
  const big = Buffer.from(g);
  big.writeUInt32LE(g.length * 2, g.length - 8);
  add('footer_length_past_start', big, 'refuse', /footer length \d+ exceeds the file \(\d+ bytes\).*cut short/);
  // A footer whose bytes are zeros (a truncated write padded by the file system).
  const zeroed = Buffer.from(g);
  zeroed.fill(0, footerStart, g.length - 8);
  add('footer_zeroed', zeroed, 'refuse', /footer .*(holds no schema|is corrupt).*cut short/);
  // Nothing but the magic.
  add('magic_only', Buffer.from('PAR1PAR1'), 'refuse', /8 bytes is too small for a Parquet file.*again/);
}

// ---- checks -----------------------------------------------------------------------------------
for (const f of files) {
  const file = path.join(tmp, f.name + '.parquet');
  fs.writeFileSync(file, f.bytes);
  let theirs = null, duckError = null;
  try { theirs = await duckRows(file); } catch (e) { duckError = e.message.split('\n')[0]; }
  let ours = null, ourError = null;
  try { ours = toolRows([file]); } catch (e) { ourError = (e.stderr ? e.stderr.toString() : e.message).trim(); }
  const duckVerdict = theirs ? 'read' : 'refuse';
  // DuckDB's verdict is what the file is meant to provoke (else the file is not the case named).
  check(`duckdb ${duckVerdict === 'read' ? 'reads' : 'refuses'} ${f.name}`, duckVerdict === f.expect,
    duckError ? `duckdb: ${duckError}` : `duckdb read ${theirs.rows.length} rows`);
  if (theirs) {
    if (ourError) { check(`structflow reads ${f.name} as DuckDB does`, false, ourError); continue; }
    compareRows(`structflow reads ${f.name} as DuckDB does`, ours, theirs, theirs.names, theirs.types);
  } else {
    check(`structflow refuses ${f.name}`, ourError !== null, `structflow read ${ours && ours.length} rows`);
    if (ourError) {
      check(`structflow's error names ${f.name}.parquet and the problem`,
        ourError.includes(f.name + '.parquet') && (!f.why || f.why.test(ourError)), ourError);
      console.log(`     ${ourError.slice(0, 300)}`);
    }
  }
}

// The crafted files hold what they claim (else a comparison above proves little).
{
  const expectRows = { dictionary_parquet_mr: 13, nulls_everywhere: 6, nested_lists: 5, zero_row_groups: 0, empty_row_group_first: 2 };
  for (const [name, n] of Object.entries(expectRows)) {
    const rows = toolRows([path.join(tmp, name + '.parquet')]);
    check(`${name} has ${n} rows`, rows.length === n, `${rows.length} rows`);
  }
  const pages = execFileSync(tool, ['pages', path.join(tmp, 'dictionary_parquet_mr.parquet')]).toString();
  check('dictionary_parquet_mr has PLAIN_DICTIONARY dictionary and data pages',
    /^name DICTIONARY_PAGE 2 0$/m.test(pages) && /^name DATA_PAGE 2 0$/m.test(pages) && /^code DICTIONARY_PAGE 2 2$/m.test(pages), pages);
  const nested = toolRows([path.join(tmp, 'nested_lists.parquet')]);
  const std = JSON.stringify(nested.map((r) => new Map(r.obj).get('std')));
  check('nested_lists std holds the lists as written',
    std === '[[{"num":"1"},{"num":"2"}],[],null,[null],[{"num":"3"}]]', std);
}

console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
