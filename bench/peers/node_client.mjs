// The job with the official `openai` SDK for Node, as a careful user writes it: CONCURRENCY
// workers pulling rows from a shared index (a concurrency limit), images read with fs and sent
// as base64 of the ORIGINAL bytes (Node has no Pillow: no resize, which favours Node), JSON.parse
// + field checks on each answer, JSONL out.
// Usage: NODE_PATH=tools/node/node_modules node node_client.mjs ENDPOINT MODEL IN.jsonl
//        SCHEMA.json OUT.jsonl CONCURRENCY [ROWS]
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const OpenAI = require('openai').default ?? require('openai');

const [endpoint, model, inPath, schemaPath, outPath, concStr, limitStr] = process.argv.slice(2);
const concurrency = Number(concStr);
let rows = fs.readFileSync(inPath, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
if (limitStr) rows = rows.slice(0, Number(limitStr));
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const client = new OpenAI({ baseURL: endpoint, apiKey: 'none', maxRetries: 4, timeout: 300000 });

function validate(a) {
  if (typeof a !== 'object' || a === null) throw new Error('answer is not an object');
  for (const name of schema.required) if (!(name in a)) throw new Error(`missing field ${name}`);
  for (const [name, spec] of Object.entries(schema.properties)) {
    const v = a[name];
    if (spec.enum && !spec.enum.includes(v)) throw new Error(`${name}=${v} not in enum`);
    if (spec.type === 'integer' && (!Number.isInteger(v) || v < spec.minimum || v > spec.maximum))
      throw new Error(`${name}=${v} out of range`);
  }
  return a;
}

async function one(row) {
  try {
    const content = [{ type: 'text', text: row.text }];
    if (row.image) {
      const b64 = (await fs.promises.readFile(row.image)).toString('base64');
      content.unshift({ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${b64}` } });
    }
    const resp = await client.chat.completions.create({
      model, messages: [{ role: 'user', content }], max_tokens: 64, temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
    return { id: row.id, output: validate(JSON.parse(resp.choices[0].message.content)), error: null };
  } catch (e) {
    return { id: row.id, output: null, error: String(e) };
  }
}

const t0 = performance.now();
const results = new Array(rows.length);
let next = 0;
async function worker() {
  while (next < rows.length) {
    const i = next++;
    results[i] = await one(rows[i]);
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
let ok = 0;
const out = fs.createWriteStream(outPath);
for (const r of results) {
  if (r.error === null) ok++;
  out.write(JSON.stringify(r) + '\n');
}
await new Promise((res) => out.end(res));
console.log(`rows=${rows.length} ok=${ok} failed=${rows.length - ok} wall_s=${((performance.now() - t0) / 1000).toFixed(2)}`);
