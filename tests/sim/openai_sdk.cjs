// The simulator checked by the official OpenAI SDK for Node (npm `openai`): what works with the
// SDK against `structflow sim` works against vLLM.
//
//   NODE_PATH=tools/node/node_modules node openai_sdk.cjs <structflow binary>
//
// Starts `structflow sim --port 0`, reads its `listening on ...` line, then: lists models; asks a
// chat with an image data URL and a json_schema response_format and validates the answer;
// streams an answer with usage; and checks the SDK's error objects for an unknown model (404)
// and a broken image (400). Finally SIGTERM must stop the server with exit code 0. Then the
// llama.cpp and Ollama families: a json_schema answer with free whitespace, llama.cpp's 500 for an
// image sent to a text-only model, and Ollama's 404 for an unknown model, as the SDK sees them.
'use strict';
const { spawn } = require('node:child_process');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const OpenAI = require('openai');

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node openai_sdk.cjs <structflow binary>');
  process.exit(2);
}

// A real PNG (8x8 gradient) built here, so the server's decoder sees a proper image.
function makePng(w, h) {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (buf) => {
    let c = -1;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = x * 32;
      raw[o + 1] = y * 32;
      raw[o + 2] = 128;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

function startSim(extra = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['sim', '--port', '0', '--latency-ms', '5', '--seed', '3', ...extra],
                        { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('sim did not print its listening line in 10 s')), 10000);
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = out.match(/^listening on (http:\/\/[^\s]+\/v1)\n/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, baseURL: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`sim exited early with ${code}: ${out}`)));
  });
}

const schema = {
  type: 'object',
  properties: {
    caption: { type: 'string', minLength: 3, maxLength: 40 },
    objects: { type: 'array', items: { type: 'string', enum: ['cat', 'dog', 'tree', 'car'] }, minItems: 1, maxItems: 3 },
    count: { type: 'integer', minimum: 0, maximum: 10 },
    taken: { type: 'string', format: 'date' },
    confidence: { anyOf: [{ type: 'number', minimum: 0, maximum: 1 }, { type: 'null' }] },
  },
  required: ['caption', 'objects', 'count', 'taken', 'confidence'],
  additionalProperties: false,
};

function checkAgainstSchema(v) {
  assert.equal(typeof v, 'object');
  assert.deepEqual(Object.keys(v).sort(), ['caption', 'confidence', 'count', 'objects', 'taken']);
  assert.equal(typeof v.caption, 'string');
  assert.ok(v.caption.length >= 3 && v.caption.length <= 40, `caption length ${v.caption.length}`);
  assert.ok(Array.isArray(v.objects) && v.objects.length >= 1 && v.objects.length <= 3);
  for (const o of v.objects) assert.ok(['cat', 'dog', 'tree', 'car'].includes(o), o);
  assert.ok(Number.isInteger(v.count) && v.count >= 0 && v.count <= 10);
  assert.match(v.taken, /^\d{4}-\d{2}-\d{2}$/);
  assert.ok(v.confidence === null || (typeof v.confidence === 'number' && v.confidence >= 0 && v.confidence <= 1));
}

async function main() {
  const { child, baseURL } = await startSim();
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const client = new OpenAI({ baseURL, apiKey: 'sk-sim', maxRetries: 0, timeout: 10000 });
  const results = [];
  const check = async (name, fn) => {
    try {
      await fn();
      results.push([name, true]);
      console.log(`ok   ${name}`);
    } catch (e) {
      results.push([name, false]);
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    }
  };
  const imageUrl = 'data:image/png;base64,' + makePng(8, 8).toString('base64');

  await check('models.list', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['sim-vlm']);
  });

  await check('chat with an image and a json_schema response format', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await client.chat.completions.create({
        model: 'sim-vlm',
        messages: [{ role: 'user', content: [
          { type: 'text', text: `Describe picture ${i} as JSON.` },
          { type: 'image_url', image_url: { url: imageUrl } },
        ] }],
        response_format: { type: 'json_schema', json_schema: { name: 'picture', schema, strict: true } },
        max_tokens: 300,
      });
      assert.equal(r.object, 'chat.completion');
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.ok(r.usage.prompt_tokens >= 576, 'an image counts its tokens');
      checkAgainstSchema(JSON.parse(r.choices[0].message.content));
    }
  });

  await check('streamed answer with usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'sim-vlm',
      messages: [{ role: 'user', content: 'Which is larger? A) 3 B) 7' }],
      stream: true,
      stream_options: { include_usage: true },
      extra_body: undefined,
    });
    let content = '';
    let finish = null;
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length > 0) {
        content += chunk.choices[0].delta.content || '';
        if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
      }
    }
    assert.ok(chunks >= 3, `only ${chunks} chunks`);
    assert.ok(content.length > 0);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);
  });

  await check('structured_outputs choice (vLLM 0.12 extra body)', async () => {
    const r = await client.chat.completions.create({
      model: 'sim-vlm',
      messages: [{ role: 'user', content: 'Pick a colour.' }],
      structured_outputs: { choice: ['red', 'green', 'blue'] },
    });
    assert.ok(['red', 'green', 'blue'].includes(r.choices[0].message.content));
  });

  await check('unknown model is a NotFoundError with vLLM\'s error body', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, `got ${e && e.constructor && e.constructor.name}`);
        assert.equal(e.status, 404);
        // vLLM 0.10.1+ (the default --api vllm-0.12) nests the error like OpenAI does, so the
        // SDK exposes it as e.error.
        assert.equal(e.error.message, 'The model `no-such-model` does not exist.');
        assert.equal(e.error.type, 'NotFoundError');
        assert.equal(e.error.code, 404);
        assert.ok(e.message.includes('does not exist'));
        return true;
      });
  });

  await check('broken image is a BadRequestError', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'sim-vlm',
        messages: [{ role: 'user', content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,' + Buffer.from('not a png at all').toString('base64') } },
        ] }],
      }),
      (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `got ${e && e.constructor && e.constructor.name}`);
        assert.equal(e.status, 400);
        assert.equal(e.error.type, 'BadRequestError');
        assert.ok(e.message.length > 0);
        return true;
      });
  });

  child.kill('SIGTERM');
  const { code, signal } = await exited;
  results.push(['SIGTERM stops the server with exit 0', code === 0]);
  console.log(`${code === 0 ? 'ok  ' : 'FAIL'} SIGTERM stops the server with exit 0 (code ${code}, signal ${signal})`);

  const llama = await startSim(['--api', 'llama.cpp', '--no-image-support', '--json-whitespace', '0.5']);
  const llamaClient = new OpenAI({ baseURL: llama.baseURL, apiKey: 'sk-sim', maxRetries: 0, timeout: 10000 });
  await check('llama.cpp: json_schema answer with free whitespace parses and fits', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await llamaClient.chat.completions.create({
        model: 'any-name-is-accepted',
        messages: [{ role: 'user', content: `Describe picture ${i} as JSON.` }],
        response_format: { type: 'json_schema', json_schema: { name: 'picture', schema } },
        max_tokens: 2000,
      });
      assert.equal(r.choices[0].finish_reason, 'stop');
      checkAgainstSchema(JSON.parse(r.choices[0].message.content));
    }
  });
  await check('llama.cpp: an image to a text-only model is a 500 InternalServerError', async () => {
    await assert.rejects(
      llamaClient.chat.completions.create({
        model: 'sim-vlm',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: imageUrl } }] }],
      }),
      (e) => {
        assert.ok(e instanceof OpenAI.InternalServerError, `got ${e && e.constructor && e.constructor.name}`);
        assert.equal(e.error.type, 'server_error');
        assert.ok(e.error.message.includes('mmproj'));
        return true;
      });
  });
  llama.child.kill('SIGTERM');

  const ollama = await startSim(['--api', 'ollama']);
  const ollamaClient = new OpenAI({ baseURL: ollama.baseURL, apiKey: 'sk-sim', maxRetries: 0, timeout: 10000 });
  await check('ollama: unknown model is a NotFoundError', async () => {
    await assert.rejects(
      ollamaClient.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.NotFoundError, `got ${e && e.constructor && e.constructor.name}`);
        assert.equal(e.error.type, 'not_found_error');
        return true;
      });
  });
  ollama.child.kill('SIGTERM');

  const passed = results.filter((r) => r[1]).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
