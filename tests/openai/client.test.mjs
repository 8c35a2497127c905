// The official openai npm client against a `pad serve` started here on a free loopback port with the
// embedded default models: chat and text completions, preferences as extra body fields, streaming,
// n = 2, stop strings, named PersRMs, and the client's error classes for every error status.
// Environment: PAD_BIN (the pad executable), PAD_MODELS (the models/ directory).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import OpenAI from 'openai';

const PAD = process.env.PAD_BIN;
const MODELS = process.env.PAD_MODELS;
const PROMPT = 'Share a few facts about the animal Fenzor, please.';
const KEY = 'test-key';

// Starts `pad serve` on port 0 and resolves with { proc, url } once it prints its address.
function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PAD, ['serve', '--models', MODELS, '--port', '0', '--threads', '2', ...args],
                       { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.on('exit', (code) => reject(new Error(`pad serve exited with ${code}: ${out}`)));
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', (code) => resolve(code));
    s.proc.kill('SIGTERM');
  });
}

let main, limited, client;

before(async () => {
  main = await startServer(['--api-key', KEY]);
  limited = await startServer(['--max-batch', '1', '--max-queue', '1', '--max-body', '4096']);
  client = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: KEY, maxRetries: 0 });
});

after(async () => {
  assert.equal(await stopServer(main), 0, 'SIGTERM exits 0');
  assert.equal(await stopServer(limited), 0, 'SIGTERM exits 0');
});

const greedy = (extra = {}) => ({
  model: 'base', messages: [{ role: 'user', content: PROMPT }], max_tokens: 24, temperature: 0, ...extra,
});

test('chat without and with a preference; PAD equals pad generate', async () => {
  const plain = await client.chat.completions.create(greedy());
  assert.equal(plain.object, 'chat.completion');
  assert.equal(plain.pad.strategy, 'base');
  assert.equal(typeof plain.choices[0].message.content, 'string');
  const pad = await client.chat.completions.create(greedy({ preference: 'humor' }));
  assert.equal(pad.pad.strategy, 'pad');
  assert.equal(pad.pad.persrm, 'head');
  assert.ok(['stop', 'length'].includes(pad.choices[0].finish_reason));
  const g = spawnSync(PAD, ['generate', '-m', `${MODELS}/base`, '--persrm-head', `${MODELS}/persrm-head/value_head.safetensors`,
                            '--preference', 'humor', '-n', '24', '-p', PROMPT], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  assert.equal(g.stdout, pad.choices[0].message.content + '\n');
});

test('text completion', async () => {
  const r = await client.completions.create({ model: 'base', prompt: PROMPT, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('a stream reassembles to the non-streamed text', async () => {
  const body = greedy({ preference: 'humor' });
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
});

test('n = 2, seeded', async () => {
  const body = greedy({ n: 2, temperature: 1, seed: 3, max_tokens: 10, preference: 'humor' });
  const a = await client.chat.completions.create(body);
  const b = await client.chat.completions.create(body);
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
});

test('stop strings', async () => {
  const full = (await client.chat.completions.create(greedy({ max_tokens: 32 }))).choices[0].message.content;
  assert.ok(full.length > 12, full);
  const stop = full.slice(6, 9);
  const cut = await client.chat.completions.create(greedy({ max_tokens: 32, stop: [stop] }));
  assert.equal(cut.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('preference_weights and a named PersRM as extra body fields', async () => {
  const w = await client.chat.completions.create(greedy({ preference_weights: { humor: 1, harmless: 0.5 } }));
  assert.deepEqual(w.pad.preference_weights, { harmless: 0.5, humor: 1 });
  const lora = await client.chat.completions.create(greedy({ preference: 'humor', pad: { persrm: 'lora', w: 1.5, k: 8 } }));
  assert.equal(lora.pad.persrm, 'lora');
  assert.equal(lora.pad.w, 1.5);
  assert.equal(lora.pad.k, 8);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['base', 'head', 'lora']);
});

test('errors arrive as the client\'s error classes', async () => {
  const expectError = async (p, cls, status, param) => {
    await assert.rejects(p, (e) => {
      assert.ok(e instanceof cls, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, status);
      if (param !== undefined) assert.equal(e.param, param);
      assert.equal(typeof e.error.message, 'string');
      return true;
    });
  };
  await expectError(client.chat.completions.create(greedy({ temperature: -1 })), OpenAI.BadRequestError, 400, 'temperature');
  await expectError(client.chat.completions.create(greedy({ top_p: 0 })), OpenAI.BadRequestError, 400, 'top_p');
  await expectError(client.chat.completions.create(greedy({ n: 0 })), OpenAI.BadRequestError, 400, 'n');
  await expectError(client.chat.completions.create(greedy({ max_tokens: 999999 })), OpenAI.BadRequestError, 400, 'max_tokens');
  await expectError(client.chat.completions.create(greedy({ pad: { k: 0 } })), OpenAI.BadRequestError, 400, 'pad.k');
  await expectError(client.chat.completions.create(greedy({ preference_weights: { humor: 'x' } })), OpenAI.BadRequestError, 400,
                    'preference_weights.humor');
  await expectError(client.chat.completions.create(greedy({ model: 'nope' })), OpenAI.NotFoundError, 404, 'model');
  await expectError(client.get('/nothing'), OpenAI.NotFoundError, 404);
  const wrongKey = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await expectError(wrongKey.chat.completions.create(greedy()), OpenAI.AuthenticationError, 401);
  const small = new OpenAI({ baseURL: `${limited.url}/v1`, apiKey: 'none', maxRetries: 0 });
  await expectError(small.chat.completions.create(greedy({ messages: [{ role: 'user', content: 'x'.repeat(8000) }] })),
                    OpenAI.APIError, 413);
  // One request decoding, one waiting: of eight sent at once, some are refused with 429.
  const results = await Promise.allSettled(Array.from({ length: 8 }, () =>
    small.completions.create({ model: 'base', prompt: PROMPT, max_tokens: 200, temperature: 1 })));
  const limitedOnes = results.filter((r) => r.status === 'rejected');
  assert.ok(limitedOnes.length > 0, 'no request was refused');
  for (const r of limitedOnes) {
    assert.ok(r.reason instanceof OpenAI.RateLimitError, String(r.reason));
    assert.equal(r.reason.headers.get('retry-after'), '1');
  }
});
