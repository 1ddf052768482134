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


def check_transactions_refused():
    """Strata does not support transactions: init_transactions must fail
    (not hang, not succeed) within its timeout."""
    import logging

    class Lines(logging.Handler):
        def __init__(self):
            super().__init__()
            self.lines = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    logger = logging.getLogger("rdkafka")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    lines = Lines()
    logger.addHandler(lines)
    p = Producer({"bootstrap.servers": BOOT, "transactional.id": PREFIX + "-txn",
                  "transaction.timeout.ms": 10000, "debug": "eos"}, logger=logger)
    start = time.time()
    try:
        p.init_transactions(5)
    except KafkaException as e:
        err = e.args[0]
        took = time.time() - start
        print(f"init_transactions failed after {took:.1f}s: {err.name()}: {err.str()}")
        if took > 8:
            fail(f"init_transactions took {took:.1f}s")
        p.poll(0)  # deliver queued log lines
        # librdkafka retries FindCoordinator(TRANSACTION) until the call's
        # timeout; the reason it gives up must be Strata's answer.
        if not any("COORDINATOR_NOT_AVAILABLE" in l for l in lines.lines):
            fail("no FindCoordinator answer COORDINATOR_NOT_AVAILABLE in librdkafka's eos log: "
                 + " | ".join(lines.lines[-3:]))
        return
    fail("init_transactions succeeded, but Strata does not support transactions")


if __name__ == "__main__":
    globals()["check_" + sys.argv[1].replace("-", "_")]()
