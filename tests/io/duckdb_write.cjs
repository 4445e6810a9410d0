// Interop, the other way: DuckDB (@duckdb/node-api) writes JSONL and CSV that structflow then
// reads (interop_duckdb.sh checks what structflow makes of them). Usage: node duckdb_write.cjs DIR
const { DuckDBInstance } = require('@duckdb/node-api');
const path = require('node:path');

async function main() {
  const dir = process.argv[2];
  const f = (name) => path.join(dir, name).replaceAll("'", "''");
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  await db.run(`CREATE TABLE t AS SELECT * FROM (VALUES
      (1, 'plain', 0.5, true, ['a', 'b'], {'name': 'Zoë', 'age': 30}),
      (2, 'comma, "quote"' || chr(10) || 'newline', -2.25, false, [], {'name': 'bob', 'age': NULL}),
      (3, NULL, NULL, NULL, NULL, NULL))
    t(id, text, score, flag, tags, "user")`);
  await db.run(`COPY (SELECT * FROM t ORDER BY id) TO '${f('duck.jsonl')}' (FORMAT JSON)`);
  await db.run(`COPY (SELECT id, text, score, flag FROM t ORDER BY id) TO '${f('duck.csv')}'
                (FORMAT CSV, HEADER true)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
