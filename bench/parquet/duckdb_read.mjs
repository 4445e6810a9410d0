// DuckDB's side of the Parquet benchmark: the same reads as parquet_bench, timed in-process.
//   NODE_PATH=tools/node/node_modules node duckdb_read.mjs FILE [all|img|text]
import { createRequire } from 'node:module';
import fs from 'node:fs';
const require = createRequire(import.meta.url);
const { DuckDBInstance } = require('@duckdb/node-api');
const [file, what = 'all'] = process.argv.slice(2);
const con = await (await DuckDBInstance.create(':memory:', { threads: '1' })).connect();
const queries = {
  all: `SELECT count(*) AS n, sum(octet_length(img)) AS img, sum(length(caption) + length(source) + length(split)) AS txt FROM read_parquet('${file}')`,
  img: `SELECT count(*) AS n, sum(octet_length(img)) AS img, 0 AS txt FROM read_parquet('${file}')`,
  text: `SELECT count(*) AS n, 0 AS img, sum(length(caption) + length(source) + length(split)) AS txt FROM read_parquet('${file}')`,
};
const t0 = process.hrtime.bigint();
const r = (await con.runAndReadAll(queries[what])).getRowObjects()[0];
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const mb = fs.statSync(file).size / (1 << 20);
console.log(JSON.stringify({ reader: 'duckdb (1 thread)', rows: Number(r.n), sum_img_bytes: Number(r.img),
  text_bytes: Number(r.txt), seconds: +secs.toFixed(3), mb_per_s: +(mb / secs).toFixed(1),
  peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1) }));
