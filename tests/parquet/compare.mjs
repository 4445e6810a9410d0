// Shared by the DuckDB interop suites of the Parquet reader (interop.mjs, odd_files.mjs): a
// lossless JSON parser, the comparison of structflow's rendering of a value with DuckDB's, and a
// small harness (checks, reading a file through DuckDB and through parquet_tool).
import { execFileSync } from 'node:child_process';

// ---- lossless JSON: numbers stay text, objects keep their key order -------------------------
export function parseJson(text) {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const pairs = []; ws();
      if (text[i] === '}') { i++; return { obj: pairs }; }
      for (;;) {
        ws(); const k = str(); ws();
        if (text[i++] !== ':') throw new Error('expected : at ' + i);
        pairs.push([k, value()]); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === '}') return { obj: pairs };
        throw new Error('bad object at ' + i);
      }
    }
    if (c === '[') {
      i++; const arr = []; ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === ']') return arr;
        throw new Error('bad array at ' + i);
      }
    }
    if (c === '"') return str();
    if (text.startsWith('null', i)) { i += 4; return null; }
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    const m = /^-?[0-9.eE+\-]+|^-?Infinity|^NaN/.exec(text.slice(i, i + 400));
    if (!m) throw new Error('bad JSON at ' + i + ': ' + text.slice(i, i + 20));
    i += m[0].length;
    return { num: m[0] };
  }
  function str() {
    const start = i;
    if (text[i] !== '"') throw new Error('expected string at ' + i);
    i++;
    while (text[i] !== '"') { if (text[i] === '\\') i++; i++; }
    i++;
    return JSON.parse(text.slice(start, i));
  }
  const v = value();
  return v;
}

// ---- normalisation ----------------------------------------------------------------------------
export const T = { BOOLEAN: 1, TINYINT: 2, SMALLINT: 3, INTEGER: 4, BIGINT: 5, UTINYINT: 6, USMALLINT: 7,
  UINTEGER: 8, UBIGINT: 9, FLOAT: 10, DOUBLE: 11, TIMESTAMP: 12, DATE: 13, TIME: 14, HUGEINT: 16,
  VARCHAR: 17, BLOB: 18, DECIMAL: 19, TIMESTAMP_S: 20, TIMESTAMP_MS: 21, TIMESTAMP_NS: 22,
  ENUM: 23, LIST: 24, STRUCT: 25, MAP: 26, UUID: 27, TIMESTAMP_TZ: 31, ARRAY: 33, UHUGEINT: 32 };

const numText = (v) => (v && typeof v === 'object' && 'num' in v ? v.num : String(v));

function canonDecimal(s) {
  s = String(s);
  let neg = s.startsWith('-');
  if (neg) s = s.slice(1);
  let [ip, fp = ''] = s.split('.');
  ip = ip.replace(/^0+/, '') || '0';
  fp = fp.replace(/0+$/, '');
  if (ip === '0' && fp === '') neg = false;
  return (neg ? '-' : '') + ip + (fp ? '.' + fp : '');
}

function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

// "2021-01-02 03:04:05.123+00", "2021-01-02T03:04:05.123Z" -> BigInt nanoseconds since the epoch.
function timestampNs(s) {
  const m = /^(-?\d+)-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(s);
  if (!m) throw new Error('unparsed timestamp ' + s);
  const days = BigInt(daysFromCivil(+m[1], +m[2], +m[3]));
  let ns = ((days * 86400n + BigInt(+m[4] * 3600 + +m[5] * 60 + +m[6])) * 1000000000n);
  if (m[7]) ns += BigInt((m[7] + '000000000').slice(0, 9));
  if (m[8] && m[8] !== 'Z') {
    const sign = m[8][0] === '-' ? -1n : 1n;
    const hh = BigInt(m[8].slice(1, 3)), mm = BigInt(m[8].replace(':', '').slice(3, 5) || '0');
    ns -= sign * (hh * 3600n + mm * 60n) * 1000000000n;
  }
  return ns;
}

function timeMicros(s) {
  const m = /^(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error('unparsed time ' + s);
  return BigInt(+m[1] * 3600 + +m[2] * 60 + +m[3]) * 1000000n + BigInt(((m[4] || '') + '000000').slice(0, 6));
}

function duckBlobBytes(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === 'x') { out.push(parseInt(s.slice(i + 2, i + 4), 16)); i += 3; }
    else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

function uuidText(b64) {
  const h = Buffer.from(b64, 'base64').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Compares structflow's value `a` with DuckDB's `b` of DuckDB type `t`; returns a mismatch text.
export function diff(a, b, t, where) {
  if (a === null || b === null) return a === b ? null : `${where}: structflow ${show(a)} vs duckdb ${show(b)}`;
  const bad = () => `${where}: structflow ${show(a)} vs duckdb ${show(b)} (type ${t.typeId})`;
  switch (t.typeId) {
    case T.BOOLEAN: return a === b ? null : bad();
    case T.TINYINT: case T.SMALLINT: case T.INTEGER: case T.BIGINT: case T.UTINYINT:
    case T.USMALLINT: case T.UINTEGER: case T.UBIGINT: case T.HUGEINT:
      return BigInt(numText(a)) === BigInt(numText(b)) ? null : bad();
    case T.FLOAT: return Math.fround(Number(numText(a))) === Math.fround(Number(numText(b))) ? null : bad();
    case T.DOUBLE: return Number(numText(a)) === Number(numText(b)) ? null : bad();
    case T.DECIMAL: return canonDecimal(numText(a)) === canonDecimal(numText(b)) ? null : bad();
    case T.VARCHAR: case T.ENUM: case T.DATE: return a === b ? null : bad();
    case T.BLOB:
      return Buffer.from(a, 'base64').equals(duckBlobBytes(b)) ? null : bad();
    case T.UUID: return uuidText(a) === b ? null : bad();
    case T.TIME: return BigInt(numText(a)) === timeMicros(b) ? null : bad();
    case T.TIMESTAMP: case T.TIMESTAMP_S: case T.TIMESTAMP_MS: case T.TIMESTAMP_NS: case T.TIMESTAMP_TZ:
      return timestampNs(a) === timestampNs(b) ? null : bad();
    case T.LIST: case T.ARRAY: {
      if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return bad();
      for (let k = 0; k < a.length; k++) {
        const d = diff(a[k], b[k], t.valueType, `${where}[${k}]`);
        if (d) return d;
      }
      return null;
    }
    case T.STRUCT: {
      const am = new Map(a.obj), bm = new Map(b.obj);
      for (let k = 0; k < t.entryNames.length; k++) {
        const n = t.entryNames[k];
        if (!am.has(n) || !bm.has(n)) return `${where}.${n}: missing field`;
        const d = diff(am.get(n), bm.get(n), t.entryTypes[k], `${where}.${n}`);
        if (d) return d;
      }
      return null;
    }
    case T.MAP: {
      // structflow: {"k": v} for string keys, else [{"key":k,"value":v}]; DuckDB: {"k": v}.
      const ae = Array.isArray(a) ? a.map((e) => { const m = new Map(e.obj); return [m.get('key'), m.get('value')]; }) : a.obj;
      const be = b.obj;
      if (ae.length !== be.length) return bad();
      for (let k = 0; k < ae.length; k++) {
        const ak = typeof ae[k][0] === 'string' ? ae[k][0] : numText(ae[k][0]);
        if (String(ak) !== be[k][0]) return `${where}: key ${show(ae[k][0])} vs ${be[k][0]}`;
        const d = diff(ae[k][1], be[k][1], t.valueType, `${where}{${ak}}`);
        if (d) return d;
      }
      return null;
    }
    default:
      return `${where}: no comparison for DuckDB type ${t.typeId}`;
  }
}

export function show(v) {
  const s = JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? x.toString() : x));
  return s && s.length > 120 ? s.slice(0, 120) + '…' : s;
}

// ---- harness --------------------------------------------------------------------------------
// `con`: a DuckDB connection; `tool`: the parquet_tool binary.
export function makeHarness(con, tool) {
  const results = { passed: 0, failed: 0 };
  function check(name, ok, detail) {
    if (ok) { results.passed++; console.log(`ok   ${name}`); }
    else { results.failed++; console.log(`FAIL ${name}: ${String(detail).slice(0, 600)}`); }
  }

  async function duckRows(file) {
    const reader = await con.runAndReadAll(`SELECT * FROM read_parquet('${file}') LIMIT 0`);
    const names = reader.columnNames();
    const types = reader.columnTypesJson();
    const r = await con.runAndReadAll(`SELECT to_json(rowz)::VARCHAR AS j FROM read_parquet('${file}') rowz`);
    return { names, types, rows: r.getRowObjects().map((o) => parseJson(o.j)) };
  }

  function toolRows(files, extra = []) {
    const out = execFileSync(tool, ['dump', ...files, ...extra], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return out.split('\n').filter((l) => l.length).map(parseJson);
  }

  function compareRows(name, ours, theirs, names, types) {
    if (ours.length !== theirs.rows.length) {
      check(name, false, `structflow read ${ours.length} rows, duckdb ${theirs.rows.length}`);
      return;
    }
    for (let r = 0; r < ours.length; r++) {
      const a = new Map(ours[r].obj), b = new Map(theirs.rows[r].obj);
      for (let c = 0; c < names.length; c++) {
        if (!a.has(names[c])) { check(name, false, `row ${r}: structflow lacks column ${names[c]}`); return; }
        const d = diff(a.get(names[c]), b.get(names[c]), types[c], `row ${r} ${names[c]}`);
        if (d) { check(name, false, d); return; }
      }
    }
    check(name, true);
  }

  return { results, check, duckRows, toolRows, compareRows };
}
