// Interop: DuckDB (@duckdb/node-api) reads the JSONL and CSV files structflow wrote and must see
// the same values structflow was given. Usage: NODE_PATH=tools/node/node_modules node
// duckdb_interop.cjs WORKDIR (CommonJS, so that NODE_PATH resolves the package).
const { DuckDBInstance } = require('@duckdb/node-api');
const assert = require('node:assert/strict');
const path = require('node:path');

async function main() {

const dir = process.argv[2];
const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();

async function rows(sql) {
  const reader = await db.runAndReadAll(sql);
  return reader.getRowObjectsJson();
}
const f = (name) => path.join(dir, name).replaceAll("'", "''");

// The values in in.jsonl, as DuckDB's JSON rendering shows them.
const expected = [
  { id: '1', text: 'hello, "world"\nsecond line', score: 0.5, flag: true, tags: ['a', 'b'],
    user: { name: 'Zoë', age: '30' } },
  { id: '2', text: '', score: 2, flag: false, tags: [], user: { name: 'bob', age: null } },
  { id: '3', text: null, score: null, flag: null, tags: null, user: null },
];

function normalize(rs) {
  // BIGINTs come back as strings; make every integer a string so both sides compare alike.
  return JSON.parse(JSON.stringify(rs, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

// JSONL written by structflow.
const jsonl = normalize(await rows(
  `SELECT id, text, score, flag, tags, "user" FROM read_json('${f('out.jsonl')}') ORDER BY id`));
for (const r of jsonl) r.id = String(r.id);
for (const r of jsonl) if (r.user) r.user.age = r.user.age === null ? null : String(r.user.age);
assert.deepEqual(jsonl, expected, 'DuckDB reading structflow JSONL');
const jtypes = await rows(`DESCRIBE SELECT * FROM read_json('${f('out.jsonl')}')`);
assert.deepEqual(jtypes.map((t) => [t.column_name, t.column_type]), [
  ['id', 'BIGINT'], ['text', 'VARCHAR'], ['score', 'DOUBLE'], ['flag', 'BOOLEAN'],
  ['tags', 'VARCHAR[]'], ['user', 'STRUCT("name" VARCHAR, age BIGINT)'],
]);

// CSV written by structflow: nested values are JSON text, which DuckDB parses back. structflow
// writes null as an empty field and the empty string as "" (as Python's csv module reads them);
// DuckDB turns "" into NULL unless allow_quoted_nulls = false.
const csv = normalize(await rows(
  `SELECT id, "text", score, flag, tags::JSON AS tags, "user"::JSON AS "user"
   FROM read_csv('${f('out.csv')}', header = true, allow_quoted_nulls = false) ORDER BY id`));
for (const r of csv) {
  r.id = String(r.id);
  if (typeof r.tags === 'string') r.tags = JSON.parse(r.tags);
  if (typeof r.user === 'string') r.user = JSON.parse(r.user);
  if (r.user && r.user.age !== null) r.user.age = String(r.user.age);
}
assert.deepEqual(csv, expected, 'DuckDB reading structflow CSV');
const ctypes = await rows(`DESCRIBE SELECT * FROM read_csv('${f('out.csv')}', header = true)`);
assert.deepEqual(ctypes.map((t) => [t.column_name, t.column_type]).slice(0, 4), [
  ['id', 'BIGINT'], ['text', 'VARCHAR'], ['score', 'DOUBLE'], ['flag', 'BOOLEAN'],
]);

// Binary: base64 text in both formats.
const bin = await rows(
  `SELECT from_base64(image) AS b FROM read_json('${f('photos.jsonl')}') ORDER BY path`);
assert.equal(bin.length, 2);
const bcsv = await rows(
  `SELECT path, from_base64(image)::VARCHAR AS b FROM read_csv('${f('photos.csv')}', header = true) ORDER BY path`);
assert.deepEqual(bcsv.map((r) => [r.path, r.b]), [['a.png', 'PNG-a'], ['b.jpg', 'JPG-b']]);

console.log('duckdb interop: JSONL and CSV read back with the same values');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
