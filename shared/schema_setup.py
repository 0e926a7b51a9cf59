"""``imfaas migrate``: schemas, topics and buckets, created or upgraded once per release."""

from __future__ import annotations

from imfaas.events import catalog
from imfaas.shared.adapter_factory import DURABLE_PORTS, open_ports
from imfaas.shared.adapter_factory import open_object_store as open_object_store
from imfaas.shared.settings import Settings


async def set_up_backends(settings: Settings, with_objects: bool) -> list[str]:
    """Apply pending migrations, create topics and buckets; return what was set up."""
    done: list[str] = []
    ports = await open_ports(settings.with_changes(auto_migrate=True), DURABLE_PORTS)
    await ports.close()
    done.append(f"migrations ({settings.relational_backend}, {settings.message_backend})")
    if settings.bus_backend == "kafka":
        from imfaas.shared.adapters.event_bus_kafka import KafkaEventBus

        bus = KafkaEventBus(
            settings.kafka_bootstrap,
            topic_prefix=settings.kafka_topic_prefix,
            partitions=settings.bus_partitions,
            timeout_s=settings.backend_timeout_s,
        )
        await bus.ensure_topics(sorted(catalog.TOPICS))
        done.append(f"{len(catalog.TOPICS)} Kafka topics and their dead-letter topics")
    if with_objects:
        store = open_object_store(settings)
        for bucket in (settings.s3_media_bucket, settings.s3_backup_bucket):
            await store.ensure_bucket(bucket)
        done.append(f"buckets {settings.s3_media_bucket}, {settings.s3_backup_bucket}")
    return done
