"""confluent-kafka-python (librdkafka) checks against a Strata agent.

Usage: python confluent_checks.py CHECK BOOTSTRAP PREFIX

Each check exits 0 on success and raises (non-zero exit, the reason on the
last stderr line) on failure. Every client call has a bounded timeout;
compat/run.sh also wraps the whole process in `timeout`.
"""
import sys
import time

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition, OFFSET_BEGINNING)
from confluent_kafka.admin import AdminClient, NewTopic

BOOT, PREFIX = sys.argv[2], sys.argv[3]
T = 15  # seconds, for each client call


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def create_topic(name, partitions):
    admin = AdminClient({"bootstrap.servers": BOOT})
    futs = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=T, request_timeout=T)
    futs[name].result(timeout=T)
    return admin


def produce(topic, records):
    """records: list of (partition, key, value, headers); returns delivered
    (partition, offset) per record, in order."""
    p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": True, "acks": "all",
                  "message.timeout.ms": T * 1000})
    got = [None] * len(records)
    errs = []

    def cb(i):
        def f(err, msg):
            if err is not None:
                errs.append(err)
            else:
                got[i] = (msg.partition(), msg.offset())
        return f

    for i, (part, key, value, headers) in enumerate(records):
        p.produce(topic, value=value, key=key, headers=headers, partition=part, on_delivery=cb(i))
        p.poll(0)
    left = p.flush(T)
    if left or errs:
        fail(f"produce: {left} undelivered, errors {errs[:3]}")
    return got


def consume_assigned(topic, partitions, want, timeout=T):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": PREFIX + "-unused",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    deadline = time.time() + timeout
    while len(out) < want and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail(f"consume: {m.error()}")
        out.append(m)
    c.close()
    if len(out) != want:
        fail(f"consumed {len(out)} records, want {want}")
    return out


def check_admin_create_topic():
    name = PREFIX + "-admin"
    admin = create_topic(name, 3)
    md = admin.list_topics(name, timeout=T)
    t = md.topics[name]
    if t.error is not None or sorted(t.partitions) != [0, 1, 2]:
        fail(f"metadata after create: error={t.error} partitions={sorted(t.partitions)}")
    # Creating it again must fail with TOPIC_ALREADY_EXISTS (36).
    futs = admin.create_topics([NewTopic(name, 3, 1)], request_timeout=T)
    try:
        futs[name].result(timeout=T)
        fail("second create succeeded")
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            fail(f"second create: {e.args[0]}, want TOPIC_ALREADY_EXISTS")


def check_produce_consume():
    topic = PREFIX + "-pc"
    create_topic(topic, 3)
    recs = []
    for i in range(300):
        recs.append((i % 3, f"key-{i}".encode(), (f"value {i} " + "x" * (i % 97)).encode() + bytes([i % 256]),
                     [("h1", f"hv-{i}".encode()), ("bin", bytes([0, 255, i % 256]))]))
    recs.append((0, None, b"", None))  # null key, empty value, no headers
    got = produce(topic, recs)
    # Offsets per partition are 0..n-1 in produce order.
    nxt = {0: 0, 1: 0, 2: 0}
    for (part, off), rec in zip(got, recs):
        if part != rec[0] or off != nxt[part]:
            fail(f"delivery report partition/offset {part}/{off}, want {rec[0]}/{nxt[rec[0]]}")
        nxt[part] += 1
    msgs = consume_assigned(topic, 3, len(recs))
    byoff = {(m.partition(), m.offset()): m for m in msgs}
    for (part, off), (_, key, value, headers) in zip(got, recs):
        m = byoff.get((part, off))
        if m is None:
            fail(f"record {part}/{off} not consumed")
        if m.key() != key or m.value() != value or (m.headers() or None) != headers:
            fail(f"record {part}/{off}: got key={m.key()!r} value={m.value()[:20]!r} headers={m.headers()}, "
                 f"want key={key!r} headers={headers}")


def check_group_commit():
    topic, group = PREFIX + "-grp", PREFIX + "-group"
    create_topic(topic, 1)
    recs = [(0, f"k{i}".encode(), f"v{i}".encode(), None) for i in range(20)]
    produce(topic, recs)

    def member():
        c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "auto.offset.reset": "earliest",
                      "enable.auto.commit": False, "session.timeout.ms": 10000})
        c.subscribe([topic])
        return c

    def take(c, n):
        out = []
        deadline = time.time() + 30
        while len(out) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                fail(f"group consume: {m.error()}")
            out.append(m)
        if len(out) != n:
            fail(f"group member consumed {len(out)}, want {n}")
        return out

    a = member()
    first = take(a, 10)
    if [m.offset() for m in first] != list(range(10)):
        fail(f"first member offsets {[m.offset() for m in first]}")
    a.commit(message=first[-1], asynchronous=False)
    committed = a.committed([TopicPartition(topic, 0)], timeout=T)
    if committed[0].offset != 10 or committed[0].error is not None:
        fail(f"committed offset {committed[0].offset} ({committed[0].error}), want 10")
    a.close()

    b = member()
    rest = take(b, 10)
    b.close()
    if [m.offset() for m in rest] != list(range(10, 20)) or [m.value() for m in rest] != [r[2] for r in recs[10:]]:
        fail(f"second member resumed at offsets {[m.offset() for m in rest]}, want 10..19")


def read_to_end(topic, partitions, isolation, timeout=T):
    """Every record of topic's partitions from the beginning to the end a
    consumer of that isolation level sees (its partition EOF: the high
    watermark, or under read_committed the last stable offset), as
    (partition, offset, key, value) per partition in order; and the end
    offset each partition's EOF reported."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": PREFIX + "-reader", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out, eof = [], {}
    deadline = time.time() + timeout
    while len(eof) < partitions and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof[m.partition()] = m.offset()
                continue
            fail(f"{isolation} consume: {m.error()}")
        eof.pop(m.partition(), None)
        out.append((m.partition(), m.offset(), m.key(), m.value()))
    highs = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=T)[1] for p in range(partitions)}
    c.close()
    if len(eof) < partitions:
        fail(f"{isolation} consumer: no end of partition within {timeout}s (EOF on {sorted(eof)})")
    return sorted(out), eof, highs


def check_transactions():
    """A transactional producer (transactional.id) across two partitions:
    committed, aborted and open transactions, offsets sent to a transaction;
    read_committed sees exactly the committed records and stops at the last
    stable offset, read_uncommitted sees them all."""
    topic, group = PREFIX + "-txn", PREFIX + "-txn-group"
    create_topic(topic, 2)
    p = Producer({"bootstrap.servers": BOOT, "transactional.id": PREFIX + "-tid",
                  "transaction.timeout.ms": 60000, "message.timeout.ms": T * 1000})
    p.init_transactions(T)
    # The consumer group metadata a consume-transform-produce loop would
    # send with its offsets (a group nobody joined: generation -1).
    gc = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False,
                   "isolation.level": "read_committed"})
    gmeta = gc.consumer_group_metadata()
    delivered = {}  # key -> (partition, offset)
    errs = []

    def cb(err, msg):
        if err is not None:
            errs.append(err)
        else:
            delivered[msg.key()] = (msg.partition(), msg.offset())

    def txn(name, n, end, offset=None):
        """One transaction of n records keyed NAME-i, partition i % 2;
        end: "commit", "abort" or "open" (flushed, left open)."""
        p.begin_transaction()
        keys = []
        for i in range(n):
            k = f"{name}-{i}".encode()
            keys.append(k)
            p.produce(topic, key=k, value=f"{name} value {i}".encode() + bytes([0, 255]), partition=i % 2,
                      on_delivery=cb)
        if offset is not None:
            p.send_offsets_to_transaction([TopicPartition(topic, 0, offset)], gmeta, T)
        left = p.flush(T)
        if left or errs:
            fail(f"transaction {name}: {left} undelivered, errors {errs[:3]}")
        if end == "commit":
            p.commit_transaction(T)
        elif end == "abort":
            p.abort_transaction(T)
        return keys

    def committed_offset():
        got = gc.committed([TopicPartition(topic, 0)], timeout=T)[0]
        if got.error is not None:
            fail(f"committed offset of {group}: {got.error}")
        return got.offset

    def records(keys):
        return sorted((delivered[k][0], delivered[k][1], k, k.replace(b"-", b" value ", 1) + bytes([0, 255]))
                      for k in keys)

    a = txn("a", 20, "commit", offset=5)
    if committed_offset() != 5:
        fail(f"after a committed transaction sent offset 5: group offset {committed_offset()}")
    b = txn("b", 15, "abort", offset=7)
    if committed_offset() != 5:
        fail(f"after an aborted transaction sent offset 7: group offset {committed_offset()}, want 5")
    c = txn("c", 10, "commit")
    d = txn("d", 6, "open")
    # The last stable offset of each partition is the first offset of the
    # open transaction.
    lso = {part: min(delivered[k][1] for k in d if delivered[k][0] == part) for part in (0, 1)}
    end = {part: max(delivered[k][1] for k in d if delivered[k][0] == part) + 1 for part in (0, 1)}

    got, eof, highs = read_to_end(topic, 2, "read_committed")
    if got != records(a + c):
        fail(f"read_committed with a transaction open: {len(got)} records, want the {len(a + c)} committed: "
             f"first difference {next((x for x in zip(got, records(a + c)) if x[0] != x[1]), None)}")
    if eof != lso or highs != lso:
        fail(f"read_committed end {eof}, high watermark {highs}; want the last stable offsets {lso}")
    got, eof, highs = read_to_end(topic, 2, "read_uncommitted")
    if got != records(a + b + c + d):
        fail(f"read_uncommitted: {len(got)} records, want all {len(a + b + c + d)} produced")
    if eof != end or highs != end:
        fail(f"read_uncommitted end {eof}, high watermark {highs}; want {end}")

    p.commit_transaction(T)
    got, eof, highs = read_to_end(topic, 2, "read_committed")
    if got != records(a + c + d):
        fail(f"read_committed after the last commit: {len(got)} records, want {len(a + c + d)}")
    # Nothing open: the end is past the last commit marker, at end + 1.
    past = {part: end[part] + 1 for part in (0, 1)}
    if eof != past or highs != past:
        fail(f"read_committed end {eof}, high watermark {highs} after the last commit; want {past}")
    gc.close()
    print(f"transactions: {len(a + c + d)} committed and {len(b)} aborted records over 2 partitions, "
          f"last stable offsets {lso} while one was open; read_committed and read_uncommitted exact")


if __name__ == "__main__":
    globals()["check_" + sys.argv[1].replace("-", "_")]()
