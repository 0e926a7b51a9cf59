"""Smoke check of the broker started by infra/kafka.sh, with kafka-python 3.x.

    python infra/kafka/smoke.py produce   # topic of 4 partitions, 100 keyed msgs, consume, commit
    infra/kafka.sh stop && infra/kafka.sh start && infra/kafka.sh wait
    python infra/kafka/smoke.py verify    # topic and committed offsets survived the restart

Not a pytest module (no test_ prefix): it exercises the infra script, not imfaas.
"""

import collections
import os
import sys
import time

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

BS = "127.0.0.1:{}".format(os.environ.get("IMFAAS_KAFKA_PORT", "29092"))
TOPIC = "imfaas-infra-smoke"
GROUP = "imfaas-infra-smoke-group"
N = 100


def consume(expect, timeout_s=30.0):
    consumer = KafkaConsumer(
        TOPIC,
        bootstrap_servers=BS,
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    got, deadline = [], time.time() + timeout_s
    while time.time() < deadline and len(got) < expect:
        for tp, recs in consumer.poll(timeout_ms=500).items():
            got += [(tp.partition, r.offset, r.key.decode(), r.value.decode()) for r in recs]
    if expect == 0:  # nothing may arrive past the committed offsets
        for _ in range(4):
            for tp, recs in consumer.poll(timeout_ms=500).items():
                got += [(tp.partition, r.offset, r.key.decode(), r.value.decode()) for r in recs]
    consumer.commit()  # manual commit of the consumed positions
    consumer.close()
    return got


def producer():
    # kafka-python 3.x: idempotence and acks=all are its defaults; set explicitly they must agree
    # (acks=1/0, retries=0 or max_in_flight_requests_per_connection>5 raise KafkaConfigurationError)
    return KafkaProducer(bootstrap_servers=BS, acks="all", enable_idempotence=True, linger_ms=5)


def produce():
    admin = KafkaAdminClient(bootstrap_servers=BS)
    admin.create_topics(
        {TOPIC: {"num_partitions": 4, "replication_factor": 1}}, wait_for_metadata=True
    )
    assert len(admin.describe_topics([TOPIC])[0]["partitions"]) == 4
    admin.close()
    prod = producer()
    futures = [prod.send(TOPIC, key=b"k%d" % (i % 13), value=b"v%d" % i) for i in range(N)]
    prod.flush()
    for f in futures:
        f.get(timeout=10)
    prod.close()
    got = consume(N)
    assert len(got) == N, len(got)
    by_key, parts = collections.defaultdict(list), collections.defaultdict(set)
    for part, _off, key, value in sorted(got):
        by_key[key].append(int(value[1:]))
        parts[key].add(part)
    for key, values in by_key.items():
        assert values == sorted(values), (key, values)
        assert len(parts[key]) == 1, (key, parts[key])
    print(f"produce OK: {N} messages, {len(by_key)} keys in order")


def verify():
    admin = KafkaAdminClient(bootstrap_servers=BS)
    assert TOPIC in admin.list_topics()
    assert len(admin.describe_topics([TOPIC])[0]["partitions"]) == 4
    offsets = admin.list_group_offsets(GROUP)[GROUP]
    committed = sum(o.offset for o in offsets.values())
    admin.close()
    assert committed == N, committed
    assert consume(0, timeout_s=3) == []
    prod = producer()
    prod.send(TOPIC, key=b"k0", value=b"after-restart").get(timeout=10)
    prod.close()
    assert [g[3] for g in consume(1)] == ["after-restart"]
    print(f"verify OK: topic and {committed} committed offsets survived the restart")


if __name__ == "__main__":
    {"produce": produce, "verify": verify}[sys.argv[1]]()
