// Regenerates the fuzz seed corpus (testdata/corpus/): small DuckDB-written Parquet files covering
// the types, encodings and codecs the reader handles.
//   NODE_PATH=tools/node/node_modules node src/io/parquet/testdata/make_corpus.mjs
// (structflow_*.parquet are structflow's own writer's; odd_*.parquet are the files
// tests/parquet/odd_files.mjs crafts in other writers' layouts, copied from its temp folder.)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const require = createRequire(import.meta.url);
const { DuckDBInstance } = require('@duckdb/node-api');
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');
const con = await (await DuckDBInstance.create(':memory:')).connect();
const scalars = `SELECT i AS id, i % 2 = 0 AS b, (i % 100)::TINYINT AS i8, (i * 7)::INTEGER AS i32,
  (i / 3.0)::REAL AS f, (i / 7.0)::DOUBLE AS d, (i * 1.5)::DECIMAL(9,2) AS dec,
  (i * 1.5)::DECIMAL(30,2) AS wide, CASE WHEN i % 3 = 0 THEN NULL ELSE 's' || i END AS s,
  ['a','b'][i % 2 + 1] AS low, ('\\x01' || i)::BLOB AS bin, DATE '2020-01-01' + i::INTEGER AS day,
  TIMESTAMP '2020-01-01' + INTERVAL (i) SECOND AS ts, '2020-01-01 00:00:00.5'::TIMESTAMP_NS AS tsn,
  ('00000000-0000-4000-8000-' || lpad(i::VARCHAR, 12, '0'))::UUID AS u FROM range(40) t(i)`;
const nested = `SELECT i AS id,
  CASE WHEN i % 5 = 0 THEN NULL ELSE [{'bytes': ('\\x89' || i)::BLOB, 'path': 'p' || i}] END AS images,
  [[i, NULL], []] AS ll, MAP {'k' || i: i} AS m, {'a': i, 'b': {'c': [i]}} AS st FROM range(30) t(i)`;
for (const [name, sql, opts] of [
  ['scalars_snappy', scalars, 'COMPRESSION snappy'],
  ['scalars_zstd_v2', scalars, 'COMPRESSION zstd, PARQUET_VERSION v2'],
  ['scalars_gzip', scalars, 'COMPRESSION gzip'],
  ['scalars_none_v2', scalars, 'COMPRESSION uncompressed, PARQUET_VERSION v2'],
  ['scalars_lz4', scalars, 'COMPRESSION lz4_raw'],
  ['scalars_brotli', scalars, 'COMPRESSION brotli'],
  ['nested_none', nested, 'COMPRESSION uncompressed'],
  ['nested_snappy_v2', nested, 'COMPRESSION snappy, PARQUET_VERSION v2, ROW_GROUP_SIZE 10'],
]) {
  await con.run(`COPY (${sql}) TO '${path.join(out, name + '.parquet')}' (FORMAT parquet, ${opts})`);
}
