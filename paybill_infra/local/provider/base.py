"""The lifecycle every local-target provider shares (``check``/``create``/``read``/``diff``/``update``/
``delete``); subclasses implement the SQL. Loading this module inside the engine's provider host ties the
host's life to its engine (:func:`paybill_infra.lifeline.guard_engine`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from paybill_infra import lifeline
from paybill_infra.local.provider.lazy import server

if TYPE_CHECKING:
    from paybill_infra.local.server import AdminConnection


if lifeline.in_provider_host():
    lifeline.guard_engine()

Props = dict[str, Any]
IGNORED_IN_DIFF = frozenset({"server", "drift", "host", "port", "password", "verifier", "__provider"})
OUTPUT_ONLY = frozenset({"drift", "host", "port"})


def _spec(props: Mapping[str, Any]) -> server.ServerSpec:
    given = props["server"]
    return server.ServerSpec(url=given.get("url") or None, embedded_dir=given.get("embedded_dir") or None)


def _endpoint(admin: AdminConnection) -> Props:
    return {"host": admin.host, "port": admin.port}


class PostgresProvider(ResourceProvider):
    """Shared lifecycle: subclasses declare which inputs force replacement and implement the SQL."""

    replace_on: ClassVar[tuple[str, ...]] = ()
    secret_outputs: ClassVar[tuple[str, ...]] = ()
    replace_on_drift: ClassVar[bool] = False
    computed: ClassVar[tuple[str, ...]] = ()
    """Outputs the provider computes (inputs carry ``None`` placeholders for them): never a diff."""

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        raise NotImplementedError

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        """Deviations from the declaration (empty when in sync), or ``None`` when the object is gone."""
        raise NotImplementedError

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        raise NotImplementedError

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        raise NotImplementedError

    def _id(self, props: Props) -> str:
        raise NotImplementedError

    def _desired(self, props: Props) -> Props:
        """Properties the provider keeps the object in, beyond the declared inputs (added by ``check``)."""
        return {}

    def _observed(self, props: Props, drift: list[str]) -> Props:
        """The values of the ``_desired`` properties that ``drift`` shows deviating."""
        return {}

    def check(self, _olds: Props, news: Props) -> CheckResult:
        return CheckResult({**news, **self._desired(news)}, [])

    def create(self, props: Props) -> CreateResult:
        admin = server.admin_connection(_spec(props))
        extra = self._create(admin, props)
        return CreateResult(id_=self._id(props), outs={**props, **extra, **_endpoint(admin), "drift": []})

    def read(self, id_: str, props: Props) -> ReadResult:
        admin = server.admin_connection(_spec(props))
        drift = self._inspect(admin, props)
        if drift is None:
            return ReadResult(None, {})
        observed = self._observed(props, drift)
        outs = {**props, **_endpoint(admin), **observed, "drift": drift}
        if not drift:
            return ReadResult(id_, outs)
        output_only = OUTPUT_ONLY | set(self.secret_outputs) | set(self.computed)
        inputs = {k: v for k, v in props.items() if k not in output_only} | observed | {"drift": drift}
        return ReadResult(id_, outs, inputs)

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        replaces = [k for k in self.replace_on if olds.get(k) != news.get(k)]
        ignored = IGNORED_IN_DIFF | set(self.secret_outputs) | set(self.computed)
        changed = sorted(k for k in set(olds) | set(news) if k not in ignored and olds.get(k) != news.get(k))
        if olds.get("drift"):
            changed.append("drift")
            if self.replace_on_drift:
                replaces.append("drift")
        return DiffResult(changes=bool(changed), replaces=replaces, stables=[], delete_before_replace=bool(replaces))

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        admin = server.admin_connection(_spec(news))
        extra = self._converge(admin, olds, news)
        kept = {k: olds[k] for k in self.secret_outputs if k in olds}
        return UpdateResult(outs={**news, **kept, **extra, **_endpoint(admin), "drift": []})

    def delete(self, _id: str, props: Props) -> None:
        self._delete(server.admin_connection(_spec(props)), props)
