// DuckDB interop for structflow's Parquet reader and writer.
//
//   node interop.mjs <parquet_tool> <tmpdir>
//
// 1. DuckDB writes files covering the types, encodings (v1 and v2 pages, dictionary, DELTA_*,
//    BYTE_STREAM_SPLIT) and codecs it can produce; structflow (parquet_tool dump) reads them and
//    every value must match DuckDB's own to_json rendering of the same file.
// 2. structflow copies each file (parquet_tool copy, read + write) and DuckDB must read the copy
//    back with the same values structflow read from the original.
// Values are compared by type (from DuckDB's column types), after normalising the two JSON
// conventions: structflow renders binary as base64, timestamps as ISO 8601, decimals as exact
// strings; DuckDB renders blobs with \x escapes, timestamps with a space, decimals as numbers.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { T, diff, show, makeHarness } from './compare.mjs';

const require = createRequire(import.meta.url);
const { DuckDBInstance } = require('@duckdb/node-api');

const [tool, tmp] = process.argv.slice(2);
if (!tool || !tmp) {
  console.error('usage: node interop.mjs <parquet_tool> <tmpdir>');
  process.exit(2);
}
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });

// ---- test cases -----------------------------------------------------------------------------
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const { results, check, duckRows, toolRows, compareRows } = makeHarness(con, tool);

const scalars = `
  SELECT i AS id,
    CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END AS b,
    (i % 200 - 100)::TINYINT AS i8, (i * 37 % 60000 - 30000)::SMALLINT AS i16,
    (i * 7919 - 5000000)::INTEGER AS i32, (i * 104729 * 1000003 - 9000000000)::BIGINT AS i64,
    (i % 250)::UTINYINT AS u8, (i * 13 % 65000)::USMALLINT AS u16,
    (i * 2654435761 % 4294967295)::UINTEGER AS u32, (i * 1000000007)::UBIGINT AS u64,
    CASE WHEN i % 5 = 0 THEN NULL ELSE (i / 7.0)::REAL END AS f32,
    (i * 1.0 / 3 - 100)::DOUBLE AS f64,
    (i % 9999 / 100.0 - 40)::DECIMAL(4,2) AS dec4, (i * 1.001 - 500)::DECIMAL(9,3) AS dec9,
    (i * 12345.678901 - 1e6)::DECIMAL(18,6) AS dec18,
    (i * 123456789.0123456789 - 1e12)::DECIMAL(38,10) AS dec38,
    CASE WHEN i % 11 = 0 THEN NULL ELSE 'text ' || i || repeat('é', i % 5) END AS s,
    ['red','green','blue','alpha'][i % 4 + 1] AS lowcard,
    CASE WHEN i % 13 = 0 THEN NULL ELSE ('\\x00\\xFF' || i)::BLOB END AS bin,
    DATE '1969-12-25' + (i % 5000)::INTEGER AS d,
    TIME '00:00:00' + INTERVAL (i * 1234567) MICROSECOND AS tm,
    TIMESTAMP '1965-03-04 05:06:07.123456' + INTERVAL (i * 987654321) MICROSECOND AS ts,
    (TIMESTAMP '2001-01-01' + INTERVAL (i * 3) SECOND)::TIMESTAMP_MS AS ts_ms,
    (TIMESTAMP '2001-01-01' + INTERVAL (i * 7) SECOND)::TIMESTAMP_S AS ts_s,
    '2020-05-06 07:08:09.123456789'::TIMESTAMP_NS AS ts_ns,
    (TIMESTAMPTZ '2020-01-01 00:00:00+00' + INTERVAL (i) MINUTE) AS tstz,
    uuid_extract_version(gen_random_uuid()) AS dummy_v,
    ('00000000-0000-4000-8000-' || lpad(i::VARCHAR, 12, '0'))::UUID AS uid,
    (['x','y','z'][i % 3 + 1])::ENUM('x','y','z') AS e
  FROM range(3000) t(i)`;

const nested = `
  SELECT i AS id,
    CASE WHEN i % 9 = 0 THEN NULL WHEN i % 4 = 0 THEN [] ELSE
      [ {'bytes': ('\\x89PNG' || i)::BLOB, 'path': 'img_' || i || '.png'},
        {'bytes': CASE WHEN i % 3 = 0 THEN NULL ELSE ('\\xFF\\xD8' || i)::BLOB END, 'path': NULL} ] END AS images,
    [ {'user': 'u' || i, 'assistant': CASE WHEN i % 2 = 0 THEN NULL ELSE 'a' || i END} ] AS texts,
    CASE WHEN i % 5 = 0 THEN NULL ELSE [[i, NULL], [], NULL, [i + 1]] END AS ll,
    [NULL, i::VARCHAR] AS ls,
    CASE WHEN i % 6 = 0 THEN NULL ELSE {'a': i, 'b': {'c': [i, i * 2], 'd': CASE WHEN i % 4 = 1 THEN NULL ELSE {'e': 'deep' || i} END}} END AS st,
    CASE WHEN i % 8 = 0 THEN NULL ELSE MAP {'k' || i: i, 'z': NULL} END AS m,
    MAP {i: [i, i + 1], i + 1: []} AS mi,
    [[[i]], [[i, i], []]] AS lll,
    {'only': NULL::INTEGER} AS st_null_field
  FROM range(700) t(i)`;

async function duckWrite(name, sql, opts) {
  const file = path.join(tmp, name + '.parquet');
  await con.run(`COPY (${sql}) TO '${file}' (FORMAT parquet${opts ? ', ' + opts : ''})`);
  return file;
}

const cases = [];
for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4_raw', 'lz4', 'brotli']) {
  cases.push({ name: `scalars_${codec}`, sql: scalars, opts: `COMPRESSION ${codec}, ROW_GROUP_SIZE 1000` });
}
cases.push({ name: 'scalars_v2_zstd', sql: scalars, opts: 'COMPRESSION zstd, PARQUET_VERSION v2, ROW_GROUP_SIZE 1000' });
cases.push({ name: 'scalars_v2_none', sql: scalars, opts: 'COMPRESSION uncompressed, PARQUET_VERSION v2' });
cases.push({ name: 'nested_zstd', sql: nested, opts: 'COMPRESSION zstd, ROW_GROUP_SIZE 256' });
cases.push({ name: 'nested_snappy_v2', sql: nested, opts: 'COMPRESSION snappy, PARQUET_VERSION v2' });
cases.push({ name: 'nested_gzip', sql: nested, opts: 'COMPRESSION gzip' });
cases.push({ name: 'bigstrings', sql: `SELECT i, repeat(chr((65 + i % 26)::INTEGER), (i * 997 % 300000)::INTEGER) AS big, repeat('\\xAB', (i * 13 % 1000)::INTEGER)::BLOB AS blob FROM range(60) t(i)`, opts: 'COMPRESSION zstd' });
cases.push({ name: 'empty', sql: `SELECT 1 AS a, 'x' AS b WHERE false`, opts: '' });

const copyCodecs = ['zstd', 'snappy', 'none'];
let n = 0;
for (const c of cases) {
  let file;
  try {
    file = await duckWrite(c.name, c.sql, c.opts);
  } catch (e) {
    console.log(`skip ${c.name}: duckdb cannot write it (${e.message.split('\n')[0]})`);
    continue;
  }
  const theirs = await duckRows(file);
  let ours;
  try {
    ours = toolRows([file]);
  } catch (e) {
    check(`read ${c.name}`, false, e.stderr ? e.stderr.toString() : e.message);
    continue;
  }
  compareRows(`read ${c.name}`, ours, theirs, theirs.names, theirs.types);

  // Reverse: structflow writes a copy; DuckDB must read back what structflow read.
  const copy = path.join(tmp, c.name + '.copy.parquet');
  const codec = copyCodecs[n++ % copyCodecs.length];
  try {
    execFileSync(tool, ['copy', file, copy, '--compression', codec, '--row-group-bytes', String(1 << 16)]);
    const back = await duckRows(copy);
    compareRows(`write ${c.name} (${codec})`, ours, back, back.names, back.types);
    // The same through data page v2 with small pages; structflow must also read its own v2 file.
    const copy2 = path.join(tmp, c.name + '.copy-v2.parquet');
    execFileSync(tool, ['copy', file, copy2, '--compression', codec, '--page-v2', '--page-bytes', '4096']);
    const back2 = await duckRows(copy2);
    compareRows(`write ${c.name} (${codec}, page v2)`, ours, back2, back2.names, back2.types);
    compareRows(`read back ${c.name} (${codec}, page v2)`, toolRows([copy2]), back2, back2.names, back2.types);
  } catch (e) {
    check(`write ${c.name}`, false, e.stderr ? e.stderr.toString() : e.message);
  }
}

// The comparator must notice a changed value of every type (else the checks above prove nothing).
{
  const file = path.join(tmp, 'scalars_zstd.parquet');
  const theirs = await duckRows(file);
  const ours = toolRows([file]);
  let caught = 0, tried = 0;
  for (let c = 0; c < theirs.names.length; c++) {
    const pairs = ours[1].obj.map(([k, v]) => [k, v]);
    const k = pairs.findIndex(([nm]) => nm === theirs.names[c]);
    const v = pairs[k][1];
    if (v === null || theirs.names[c] === 'dummy_v') continue;
    let changed;
    if (typeof v === 'string') {
      changed = theirs.types[c].typeId === T.BLOB || theirs.types[c].typeId === T.UUID
        ? Buffer.from(Buffer.from(v, 'base64').map((x, j) => (j === 0 ? x ^ 1 : x))).toString('base64')
        : /\d/.test(v) ? v.replace(/\d(?=\D*$)/, (d) => String((+d + 1) % 10)) : v + 'x';
    } else if (typeof v === 'boolean') changed = !v;
    else changed = { num: String(Number(v.num) + 1) };
    pairs[k] = [pairs[k][0], changed];
    tried++;
    if (diff(changed, new Map(theirs.rows[1].obj).get(theirs.names[c]), theirs.types[c], 'x')) caught++;
    else console.log(`comparator missed a change in ${theirs.names[c]}: ${show(v)} -> ${show(changed)}`);
  }
  check('comparator catches a changed value in every column', tried > 20 && caught === tried, `${caught}/${tried}`);
}

// The files above must really contain what they are meant to cover.
{
  const pages = (f) => execFileSync(tool, ['pages', path.join(tmp, f)]).toString();
  // DuckDB (1.5) writes v1 data pages even with PARQUET_VERSION v2; DATA_PAGE_V2 is covered by
  // structflow's own v2 writer below and by unit tests.
  const v2 = pages('scalars_v2_zstd.parquet');
  // Encoding ids: 5 DELTA_BINARY_PACKED, 6 DELTA_LENGTH_BYTE_ARRAY, 8 RLE_DICTIONARY, 9 BYTE_STREAM_SPLIT.
  for (const [enc, name] of [[5, 'DELTA_BINARY_PACKED'], [6, 'DELTA_LENGTH_BYTE_ARRAY'], [8, 'RLE_DICTIONARY'], [9, 'BYTE_STREAM_SPLIT']]) {
    check(`v2 file uses ${name}`, new RegExp(` DATA_PAGE(_V2)? ${enc} `).test(v2), 'not found');
  }
  check('structflow writes DATA_PAGE_V2 when asked', pages('nested_zstd.copy-v2.parquet').includes('DATA_PAGE_V2'), '');
  const ours = pages('scalars_zstd.copy.parquet');
  check('structflow writes dictionary pages for low-cardinality strings', /^lowcard DICTIONARY_PAGE/m.test(ours), ours.slice(0, 200));
}

// Column statistics written by structflow: DuckDB prunes row groups with min/max/null_count, so
// wrong statistics change filtered counts. Compare filtered counts on the original and the copy
// (several row groups: the copy was written with 64 KB row groups).
{
  const orig = path.join(tmp, 'scalars_zstd.parquet');
  const copy = path.join(tmp, 'scalars_zstd.copy.parquet');
  const meta = await con.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS n, count(stats_min_value) AS with_stats FROM parquet_metadata('${copy}')`);
  const m = meta.getRowObjects()[0];
  check('structflow copy has several row groups with statistics', Number(m.n) > 2 && Number(m.with_stats) > 0, JSON.stringify(m, (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
  let bad = [];
  for (const col of ['id', 'i8', 'i16', 'i32', 'i64', 'u16', 'f32', 'f64', 'dec4', 'dec9', 'dec18', 's', 'lowcard', 'bin', 'd', 'ts', 'ts_ms', 'tstz']) {
    for (const pred of [`> (SELECT ${col} FROM '${orig}' WHERE ${col} IS NOT NULL ORDER BY ${col} LIMIT 1 OFFSET 1700)`,
                        `= (SELECT ${col} FROM '${orig}' WHERE ${col} IS NOT NULL ORDER BY ${col} LIMIT 1 OFFSET 100)`,
                        'IS NULL']) {
      const q = (f) => `SELECT count(*) AS n FROM read_parquet('${f}') WHERE ${col} ${pred}`;
      const a = Number((await con.runAndReadAll(q(orig))).getRowObjects()[0].n);
      const b = Number((await con.runAndReadAll(q(copy))).getRowObjects()[0].n);
      if (a !== b) bad.push(`${col} ${pred.slice(0, 12)}: ${a} vs ${b}`);
    }
  }
  check('DuckDB filters on structflow statistics give the same counts', bad.length === 0, bad.join('; '));
}

// Projection and many files as one stream.
{
  const file = path.join(tmp, 'nested_zstd.parquet');
  const theirs = await duckRows(file);
  const ours = toolRows([file, file], ['--columns', 'mi,id', '--batch-rows', '100']);
  const idx = ['mi', 'id'].map((nm) => theirs.names.indexOf(nm));
  const doubled = { rows: [...theirs.rows, ...theirs.rows] };
  const ok = ours.length === doubled.rows.length && ours.every((r) => r.obj.length === 2 && r.obj[0][0] === 'mi');
  check('projection keeps only the listed columns, in order', ok, `got ${ours.length} rows, first ${show(ours[0])}`);
  compareRows('two files read as one stream', ours, doubled, ['mi', 'id'], idx.map((i) => theirs.types[i]));
}

console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
