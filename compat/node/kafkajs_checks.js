// kafkajs checks against a Strata agent.
//
// Usage: node kafkajs_checks.js CHECK BOOTSTRAP PREFIX
// (NODE_PATH points at the kafkajs installed by compat/run.sh.)
//
// Each check exits 0 on success and 1 with the reason on failure. Every
// client call has a bounded timeout, and a global timer ends the process.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [check, boot, prefix] = process.argv.slice(2);
const T = 15000;
const kafka = new Kafka({
  clientId: 'strata-compat',
  brokers: [boot],
  connectionTimeout: T,
  requestTimeout: T,
  retry: { retries: 3 },
  logLevel: logLevel.NOTHING,
});

function fail(msg) { throw new Error(msg); }

async function createTopic(topic, numPartitions) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true, timeout: T });
    if (created !== true) fail(`createTopics returned ${created}, want true`);
    // A second create of the same topic returns false (TOPIC_ALREADY_EXISTS).
    const again = await admin.createTopics({ topics: [{ topic, numPartitions }], timeout: T });
    if (again !== false) fail(`second createTopics returned ${again}, want false`);
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const parts = md.topics[0].partitions.map((p) => p.partitionId).sort();
    if (parts.length !== numPartitions) fail(`metadata: partitions ${parts}, want ${numPartitions}`);
  } finally {
    await admin.disconnect();
  }
}

function records(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ partition: i % 2, key: `key-${i}`, value: Buffer.concat([Buffer.from(`value ${i} `), Buffer.from([0, 255, i % 256])]), headers: { h: `hv-${i}` } });
  }
  return out;
}

async function produce(topic, msgs) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const res = await producer.send({ topic, acks: -1, timeout: T, messages: msgs });
    return res;
  } finally {
    await producer.disconnect();
  }
}

// consume runs a group member until n records arrived, then stops it.
async function consume(topic, groupId, n, opts = {}) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const got = [];
  let resolve;
  const done = new Promise((r) => { resolve = r; });
  await consumer.run({
    autoCommit: opts.autoCommit !== false,
    eachMessage: async ({ partition, message }) => {
      if (got.length < n) got.push({ partition, offset: Number(message.offset), key: message.key && message.key.toString(), value: message.value, headers: message.headers });
      if (got.length === n) resolve();
    },
  });
  const timer = setTimeout(resolve, 30000);
  await done;
  clearTimeout(timer);
  if (opts.beforeStop) await opts.beforeStop(consumer, got);
  await consumer.disconnect();
  if (got.length !== n) fail(`consumed ${got.length} records, want ${n}`);
  return got;
}

const checks = {
  async 'admin-create-topic'() {
    await createTopic(`${prefix}-admin`, 3);
  },

  async 'produce-consume'() {
    const topic = `${prefix}-pc`;
    await createTopic(topic, 2);
    const msgs = records(200);
    const res = await produce(topic, msgs);
    const base = {};
    for (const r of res) base[r.partition] = Number(r.baseOffset);
    if (base[0] !== 0 || base[1] !== 0) fail(`base offsets ${JSON.stringify(res)}, want 0 and 0`);
    const got = await consume(topic, `${prefix}-pc-group`, msgs.length);
    const seen = new Map(got.map((m) => [`${m.partition}/${m.offset}`, m]));
    msgs.forEach((want, i) => {
      const m = seen.get(`${want.partition}/${Math.floor(i / 2)}`);
      if (!m) fail(`record ${want.partition}/${Math.floor(i / 2)} not consumed`);
      if (m.key !== want.key || !m.value.equals(want.value) || m.headers.h.toString() !== want.headers.h) {
        fail(`record ${want.partition}/${m.offset}: key ${m.key} value ${m.value}, want ${want.key}`);
      }
    });
  },

  async 'group-commit'() {
    const topic = `${prefix}-grp`;
    const groupId = `${prefix}-group`;
    await createTopic(topic, 1);
    const msgs = [];
    for (let i = 0; i < 20; i++) msgs.push({ partition: 0, key: `k${i}`, value: `v${i}` });
    await produce(topic, msgs);
    // The first member reads everything but commits only offset 10 (the
    // next record to read) explicitly.
    await consume(topic, groupId, 20, {
      autoCommit: false,
      beforeStop: async (consumer) => {
        await consumer.commitOffsets([{ topic, partition: 0, offset: '10' }]);
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    const offs = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    const committed = offs[0].partitions[0].offset;
    if (committed !== '10') fail(`committed offset ${committed}, want 10`);
    const rest = await consume(topic, groupId, 10);
    const offsets = rest.map((m) => m.offset).join(',');
    if (offsets !== '10,11,12,13,14,15,16,17,18,19') fail(`second member read offsets ${offsets}, want 10..19`);
    if (rest.map((m) => m.value.toString()).join(',') !== msgs.slice(10).map((m) => m.value).join(',')) fail('second member read other values');
  },

  // A transactional producer over two partitions: a committed, b aborted,
  // c committed, offsets sent in a and b; a read_committed group member
  // (kafkajs's default, readUncommitted: false) sees exactly a and c, a
  // readUncommitted one all three; the group's offset is a's, not b's.
  async transactions() {
    const topic = `${prefix}-txn`;
    const groupId = `${prefix}-txn-offsets`;
    await createTopic(topic, 2);
    const producer = kafka.producer({ transactionalId: `${prefix}-tid`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 30000 });
    await producer.connect();
    const sent = {}; // name -> [{ partition, offset, key, value }]
    const txn = async (name, n, end, offset) => {
      const msgs = [];
      for (let i = 0; i < n; i++) msgs.push({ partition: i % 2, key: `${name}-${i}`, value: Buffer.concat([Buffer.from(`${name} value ${i} `), Buffer.from([0, 255, i])]) });
      const t = await producer.transaction();
      const res = await t.send({ topic, acks: -1, timeout: T, messages: msgs });
      if (offset !== undefined) await t.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: String(offset) }] }] });
      if (end === 'commit') await t.commit(); else await t.abort();
      const base = {};
      for (const r of res) base[r.partition] = Number(r.baseOffset);
      const next = { ...base };
      sent[name] = msgs.map((m) => ({ partition: m.partition, offset: next[m.partition]++, key: m.key, value: m.value }));
    };
    const groupOffset = async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const offs = await admin.fetchOffsets({ groupId, topics: [topic] });
        return offs[0].partitions.find((p) => p.partition === 0).offset;
      } finally {
        await admin.disconnect();
      }
    };
    try {
      await txn('a', 20, 'commit', 5);
      if (await groupOffset() !== '5') fail(`after a committed transaction sent offset 5: group offset ${await groupOffset()}`);
      await txn('b', 16, 'abort', 7);
      if (await groupOffset() !== '5') fail(`after an aborted transaction sent offset 7: group offset ${await groupOffset()}, want 5`);
      await txn('c', 10, 'commit');
    } finally {
      await producer.disconnect();
    }
    // Per partition in offset order; c's last records come last, so a
    // member that has them has read everything before.
    const sortRecs = (rs) => rs.slice().sort((x, y) => x.partition - y.partition || x.offset - y.offset);
    const key = (r) => `${r.partition}/${r.offset} ${r.key} ${r.value.toString('hex')}`;
    const readAll = async (readUncommitted, want) => {
      const consumer = kafka.consumer({ groupId: `${prefix}-txn-${readUncommitted ? 'uncommitted' : 'committed'}`, readUncommitted, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const got = [];
      const last = new Set(want.filter((r) => r.key.startsWith('c-') && r.offset === Math.max(...want.filter((w) => w.partition === r.partition).map((w) => w.offset))).map(key));
      let resolve;
      const done = new Promise((r) => { resolve = r; });
      const timer = setTimeout(resolve, 30000);
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const r = { partition, offset: Number(message.offset), key: message.key.toString(), value: message.value };
          got.push(r);
          last.delete(key(r));
          if (last.size === 0) resolve();
        },
      });
      await done;
      clearTimeout(timer);
      await consumer.disconnect();
      const g = sortRecs(got).map(key), w = sortRecs(want).map(key);
      if (g.join('\n') !== w.join('\n')) {
        const i = g.findIndex((x, j) => x !== w[j]);
        fail(`${readUncommitted ? 'readUncommitted' : 'read_committed'}: ${g.length} records, want ${w.length}; first difference at ${i}: got ${g[i]}, want ${w[i]}`);
      }
      return got.length;
    };
    const committed = await readAll(false, [...sent.a, ...sent.c]);
    const all = await readAll(true, [...sent.a, ...sent.b, ...sent.c]);
    console.log(`transactions: read_committed saw exactly the ${committed} committed records, readUncommitted all ${all}; the group offset is the committed transaction's`);
  },
};

const guard = setTimeout(() => { console.error('FAIL: check timed out after 90s'); process.exit(1); }, 90000);
checks[check]().then(() => { clearTimeout(guard); process.exit(0); }, (err) => {
  console.error(`FAIL: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
