"""The Dataset's mounts as a cache engine applies them: options merged, secrets read, native kept apart.

Options are merged as the reference does: the Dataset's sharedOptions, then the mount's own
options, then encryptOptions (sharedEncryptOptions first), whose values come from Secrets. A
Secret value never travels in a request: the pods that mount the UFS mount each Secret as a
volume (a file per key under ``/etc/fluid/secrets/<secret>/``, the reference's mount-file mode)
and the mount command names the file (``aws.secretKey=/etc/fluid/secrets/s3-keys/secret``), so
neither the exec request's URL nor any process list carries it. The operator reads a Secret only
to check that the key exists, to notice a rotation, and to know what to redact: every text that
leaves it (messages, events, status, logs) passes ``redact``, which also catches the quoted,
escaped and URL-encoded forms of each value.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from lifecycle import (
    SECRET,
    Dataset,
    EncryptOption,
    Gateway,
    Mount,
    redact,
    scheme_of,
    shortened,
    to_json,
    version_of,
)

# Served from a path the pods mount themselves, not mounted by a cache command.
NATIVE_SCHEMES = ("local", "pvc")
UFS_ROOT = "/underFSStorage"


class MountSecretMissing(LookupError):
    """An encryptOption names a Secret or key that does not exist; the message says which and the fix."""


SECRETS_DIR = "/etc/fluid/secrets"


def secret_file(secret: str, key: str) -> str:
    """Where a Secret's key is a file in the pods that mount the UFS."""
    return f"{SECRETS_DIR}/{secret}/{key}"


@attrs.frozen
class ResolvedMount:
    index: int
    mount: Mount
    path: str
    ufs: str
    options: dict[str, str]
    secret_options: dict[str, str] = attrs.field(repr=False)  # option -> value: only ever used to redact
    secret_versions: dict[str, str] = attrs.field(factory=dict)  # Secret name -> resourceVersion read
    secret_files: dict[str, str] = attrs.field(factory=dict)  # option -> its file in the pod

    @property
    def file_options(self) -> dict[str, str]:
        """The options as a mount command passes them: plain values, and file paths for Secrets."""
        return {**self.options, **self.secret_files}

    @property
    def read_only(self) -> bool:
        return bool(self.mount.read_only)

    @property
    def shared(self) -> bool:
        return bool(self.mount.shared)

    @property
    def all_options(self) -> dict[str, str]:
        return {**self.options, **self.secret_options}

    def record(self) -> dict[str, Any]:
        """The mount as stored in status and ConfigMaps: spec fields only, no secret value."""
        found: dict[str, Any] = to_json(self.mount)
        return found


def is_native(mount: Mount) -> bool:
    return scheme_of(mount.mount_point) in NATIVE_SCHEMES


def ufs_mounts(dataset: Dataset | None) -> list[tuple[int, Mount]]:
    """The mounts a cache command mounts (all but local:// and pvc://), with their spec index."""
    if dataset is None:
        return []
    return [(i, m) for i, m in enumerate(dataset.spec.mounts or []) if not is_native(m)]


def native_mounts(mounts: Sequence[Mount]) -> list[tuple[int, Mount]]:
    return [(i, m) for i, m in enumerate(mounts) if is_native(m)]


def _secret_value(gateway: Gateway, namespace: str, name: str, key: str, where: str,
                  versions: dict[str, str]) -> str:
    secret = gateway.get(SECRET, namespace, name)
    if secret is None:
        raise MountSecretMissing(f"{where} reads Secret {namespace}/{name}, which does not exist; "
                                 "create it or fix valueFrom.secretKeyRef.name")
    versions[name] = version_of(secret) or ""
    raw = (secret.get("data") or {}).get(key)
    if raw is not None:
        try:
            return base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise MountSecretMissing(f"{where} reads key {key!r} of Secret {namespace}/{name}, which is not "
                                     "base64-encoded text; store the value under data as base64") from None
    plain = (secret.get("stringData") or {}).get(key)
    if plain is not None:
        return str(plain)
    raise MountSecretMissing(f"{where} reads key {key!r} of Secret {namespace}/{name}, which has no such key; "
                             "add the key or fix valueFrom.secretKeyRef.key")


def _encrypted(gateway: Gateway, namespace: str, options: Iterable[EncryptOption], where: str,
               values: dict[str, str], versions: dict[str, str], files: dict[str, str]) -> None:
    for j, opt in enumerate(options):
        ref = opt.value_from.secret_key_ref if opt.value_from else None
        at = f"{where}[{j}] ({opt.name})"
        if ref is None or not ref.name:
            raise MountSecretMissing(f"{at} names no Secret; set valueFrom.secretKeyRef.name and key")
        key = ref.key or opt.name
        values[opt.name] = _secret_value(gateway, namespace, ref.name, key, at, versions)
        files[opt.name] = secret_file(ref.name, key)


def resolve(gateway: Gateway, dataset: Dataset, mounts: Sequence[tuple[int, Mount]]) -> list[ResolvedMount]:
    """The mounts with merged options and secret values read from their Secrets."""
    ns = dataset.metadata.namespace or ""
    shared = dict(dataset.spec.shared_options or {})
    out = []
    for i, mount in mounts:
        values: dict[str, str] = {}
        versions: dict[str, str] = {}
        files: dict[str, str] = {}
        _encrypted(gateway, ns, dataset.spec.shared_encrypt_options or [],
                   f"Dataset {dataset.key}: spec.sharedEncryptOptions", values, versions, files)
        _encrypted(gateway, ns, mount.encrypt_options or [],
                   f"Dataset {dataset.key}: spec.mounts[{i}].encryptOptions", values, versions, files)
        options = {k: v for k, v in {**shared, **(mount.options or {})}.items() if k not in values}
        out.append(ResolvedMount(i, mount, mount.effective_path, mount.mount_point, options, values, versions,
                                 files))
    return out


def resolve_values(gateway: Gateway, dataset: Dataset) -> list[set[str]]:
    """The secret values each mount of ``dataset`` reads, as far as its Secrets can be read (for
    redaction: a missing Secret or key is the mount's problem to report, not this one's)."""
    found = []
    for i, mount in ufs_mounts(dataset):
        try:
            found.append(set(resolve(gateway, dataset, [(i, mount)])[0].secret_options.values()))
        except MountSecretMissing:
            continue
    return found


def secret_versions(mounts: Iterable[ResolvedMount]) -> dict[str, str]:
    """The resourceVersion of every Secret the mounts read: what ``status.mountSecretVersions`` records."""
    return {name: version for m in mounts for name, version in m.secret_versions.items()}


def live_versions(gateway: Gateway, namespace: str, names: Iterable[str]) -> dict[str, str]:
    """The current resourceVersion of each named Secret that exists (from the operator's watch of
    Secrets when it has one: checked on every pass, this must not cost a request each)."""
    found = {name: gateway.resource_version(SECRET, namespace, name) for name in names}
    return {name: version for name, version in found.items() if version is not None}


def rotated_secrets(recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> list[str]:
    """Secrets the mounts were made with that have another version now. None when nothing was
    recorded (an upgrade does not remount everything); a Secret gone from ``current`` (deleted)
    is no rotation: the mount keeps working meanwhile."""
    return sorted(name for name, version in (recorded or {}).items() if current.get(name, version) != version)


def option_records(dataset: Dataset | None, mounts: Sequence[Mount]) -> list[dict[str, Any]]:
    """The mount table for a ConfigMap: merged plain options, and Secret references for the others."""
    if dataset is None:
        return []
    shared = dict(dataset.spec.shared_options or {})
    table = []
    for mount in mounts:
        encrypted = [*(dataset.spec.shared_encrypt_options or []), *(mount.encrypt_options or [])]
        names = {o.name for o in encrypted}
        options = {k: v for k, v in {**shared, **(mount.options or {})}.items() if k not in names}
        row: dict[str, Any] = {"path": mount.effective_path, "mountPoint": mount.mount_point,
                               "readOnly": bool(mount.read_only), "shared": bool(mount.shared),
                               "native": is_native(mount)}
        if options:
            row["options"] = dict(sorted(options.items()))
        if encrypted:
            row["encryptOptions"] = [to_json(o) for o in encrypted]
        table.append(row)
    return table


def secret_values(mounts: Iterable[ResolvedMount]) -> list[str]:
    return sorted({v for m in mounts for v in m.secret_options.values() if v}, key=len, reverse=True)


def secret_names(dataset: Dataset | None, mounts: Sequence[Mount]) -> list[str]:
    """The Secrets the encryptOptions of ``mounts`` read (sharedEncryptOptions included), in order."""
    if dataset is None or not mounts:
        return []
    found: dict[str, None] = {}
    for opt in [*(dataset.spec.shared_encrypt_options or []), *(o for m in mounts for o in m.encrypt_options or [])]:
        ref = opt.value_from.secret_key_ref if opt.value_from else None
        if ref is not None and ref.name:
            found.setdefault(ref.name)
    return list(found)


def secret_volumes(dataset: Dataset | None, mounts: Sequence[Mount]) -> tuple[list[dict[str, Any]],
                                                                           list[dict[str, Any]]]:
    """A Secret volume, and its read-only mount under ``SECRETS_DIR``, per Secret the mounts read."""
    volumes, mounts_out = [], []
    for name in secret_names(dataset, mounts):
        volume = shortened(f"mount-secret-{name}", 63)
        volumes.append({"name": volume, "secret": {"secretName": name}})
        mounts_out.append({"name": volume, "mountPath": f"{SECRETS_DIR}/{name}", "readOnly": True})
    return volumes, mounts_out


def describe(argv: Sequence[str], secrets: Iterable[str]) -> str:
    """A command line for messages: shell-quoted for reading, secret values replaced."""
    return redact(shlex.join(argv), secrets)


def native_volume(index: int, mount: Mount) -> tuple[dict[str, Any], dict[str, Any]]:
    """A local:// or pvc:// mount as a pod volume and its mount below the cache's root UFS.

    ``local:///data/x`` is the node path /data/x; ``pvc://claim/sub/dir`` is the claim, at sub/dir.
    """
    scheme = scheme_of(mount.mount_point)
    rest = mount.mount_point.split("://", 1)[1]
    name = f"native-{index}"
    target = {"name": name, "mountPath": f"{UFS_ROOT}{mount.effective_path}",
              "readOnly": True if mount.read_only else None}
    if scheme == "pvc":
        claim, _, sub = rest.partition("/")
        volume: dict[str, Any] = {"name": name, "persistentVolumeClaim": {"claimName": claim}}
        if sub:
            target["subPath"] = sub
    else:
        volume = {"name": name, "hostPath": {"path": "/" + rest.lstrip("/"), "type": "Directory"}}
    return volume, {k: v for k, v in target.items() if v is not None}
