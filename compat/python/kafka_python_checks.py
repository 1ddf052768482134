"""kafka-python (pure Python client) checks against a Strata agent.

Usage: python kafka_python_checks.py CHECK BOOTSTRAP PREFIX

Each check exits 0 on success and raises on failure. Every client call has
a bounded timeout; compat/run.sh also wraps the process in `timeout`.
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

BOOT, PREFIX = sys.argv[2], sys.argv[3]
T = 15  # seconds, for each client call
MS = T * 1000


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def create_topic(name, partitions):
    admin = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=MS)
    admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=MS)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=MS)
        fail("second create_topics succeeded")
    except TopicAlreadyExistsError:
        pass
    admin.close()


def produce(topic, records):
    p = KafkaProducer(bootstrap_servers=BOOT, acks="all", request_timeout_ms=MS, max_block_ms=MS)
    futs = [p.send(topic, key=k, value=v, headers=h, partition=part) for part, k, v, h in records]
    got = [(f.get(timeout=T).partition, f.get(timeout=T).offset) for f in futs]
    p.close(timeout=T)
    return got


def poll_n(c, n, timeout=30):
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            out.extend(recs)
    if len(out) != n:
        fail(f"consumed {len(out)} records, want {n}")
    return out


def check_produce_consume():
    topic = PREFIX + "-pc"
    create_topic(topic, 2)
    recs = [(i % 2, f"key-{i}".encode(), f"value {i} ".encode() + bytes(range(i % 256)), [("h", f"hv{i}".encode())])
            for i in range(200)]
    got = produce(topic, recs)
    nxt = [0, 0]
    for (part, off), rec in zip(got, recs):
        if part != rec[0] or off != nxt[part]:
            fail(f"send result partition/offset {part}/{off}, want {rec[0]}/{nxt[rec[0]]}")
        nxt[part] += 1
    c = KafkaConsumer(bootstrap_servers=BOOT, enable_auto_commit=False, request_timeout_ms=MS + 1000,
                      consumer_timeout_ms=MS)
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    msgs = poll_n(c, len(recs))
    ends = c.end_offsets(tps)
    c.close()
    if ends != {tps[0]: 100, tps[1]: 100}:
        fail(f"end offsets {ends}, want 100 each")
    byoff = {(m.partition, m.offset): m for m in msgs}
    for (part, off), (_, k, v, h) in zip(got, recs):
        m = byoff.get((part, off))
        if m is None or m.key != k or m.value != v or list(m.headers) != h:
            fail(f"record {part}/{off} differs: {m}")


def check_group_commit():
    topic, group = PREFIX + "-grp", PREFIX + "-group"
    create_topic(topic, 1)
    recs = [(0, f"k{i}".encode(), f"v{i}".encode(), []) for i in range(20)]
    produce(topic, recs)

    def member():
        return KafkaConsumer(topic, bootstrap_servers=BOOT, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, max_poll_records=10, request_timeout_ms=MS + 1000,
                             session_timeout_ms=10000)

    a = member()
    first = poll_n(a, 10)
    if [m.offset for m in first] != list(range(10)):
        fail(f"first member offsets {[m.offset for m in first]}")
    a.commit()  # synchronous: commits the consumed position, 10
    tp = TopicPartition(topic, 0)
    if a.committed(tp) != 10:
        fail(f"committed {a.committed(tp)}, want 10")
    a.close(autocommit=False)

    b = member()
    rest = poll_n(b, 10)
    b.close(autocommit=False)
    if [m.offset for m in rest] != list(range(10, 20)) or [m.value for m in rest] != [r[2] for r in recs[10:]]:
        fail(f"second member resumed at offsets {[m.offset for m in rest]}, want 10..19")


if __name__ == "__main__":
    globals()["check_" + sys.argv[1].replace("-", "_")]()
