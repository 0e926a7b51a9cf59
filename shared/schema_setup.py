"""``imfaas migrate``: schemas, topics and buckets, created or upgraded once per release."""

from __future__ import annotations

from imfaas.events import catalog
from imfaas.shared.adapter_factory import open_ports
from imfaas.shared.ports.object_store import ObjectStore
from imfaas.shared.settings import Settings, SettingsError

DURABLE_PORTS = ("users", "devices", "messages", "conversations")


def open_object_store(settings: Settings) -> ObjectStore:
    """The object store named by the settings (media and backups)."""
    if settings.object_backend == "files":
        from imfaas.shared.adapters.object_store_files import LocalFileObjectStore

        base_url = settings.public_http_url or "http://127.0.0.1:8080"
        return LocalFileObjectStore.in_data_dir(settings.data_dir, base_url)
    if settings.object_backend != "s3":
        raise SettingsError(f"object_backend={settings.object_backend!r}; known: files, s3")
    from imfaas.shared.adapters.object_store_s3 import S3ObjectStore

    return S3ObjectStore(
        settings.s3_endpoint,
        settings.s3_region,
        settings.s3_access_key,
        settings.s3_secret_key,
        settings.backend_timeout_s,
    )


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
