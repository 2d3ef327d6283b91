"""Dynamic providers that manage the local target's PostgreSQL objects.

Each provider implements the full lifecycle the engine drives: ``create``, ``read`` (refresh: it inspects
PostgreSQL's own catalogs and reports every deviation as ``drift``), ``diff`` (names force a
delete-before-replace; drift or changed settings force an update), ``update`` (converges back to the
declaration) and ``delete`` (removes everything the resource created, data included).

Drift is visible as properties, so ``pulumi refresh --diff`` and ``pulumi preview --diff`` name it: a
provider's ``check`` adds the state it keeps the object in to the inputs (a login role's attributes:
``bypassrls: false`` …), and a refresh that finds drift reports the observed values in the outputs *and*
as the inputs later diffs start from. A ``BYPASSRLS`` granted by hand then shows as
``bypassrls: false => true`` on refresh and ``bypassrls: true => false`` (plus the ``drift`` list) in the
next preview. (The Python dynamic-provider host sends no ``detailed_diff``; the engine diffs inputs.)

The providers run inside the engine's ``pulumi-python`` dynamic-provider process, which every engine run
starts: they import only this package, psycopg and the server module, never the Pulumi program, and they
import them lazily, at the first operation that talks to PostgreSQL (``check``/``diff`` need none of them).

Modules: :mod:`.sessions` (bounded provisioning sessions and the provisioning lock), :mod:`.base` (the shared
lifecycle), and the families :mod:`.roles`, :mod:`.shared` and :mod:`.tenants`. The classes are also
importable from this package, as older states pickled them (``paybill_infra.local.provider.<Class>``).
"""

from paybill_infra.local.provider.base import PostgresProvider, Props
from paybill_infra.local.provider.roles import LoginRoleProvider
from paybill_infra.local.provider.sessions import connect, exists, provisioning_lock
from paybill_infra.local.provider.shared import SharedPlatformProvider
from paybill_infra.local.provider.tenants import BridgeSchemaProvider, PooledMembershipProvider, SiloDatabaseProvider

__all__ = [
    "BridgeSchemaProvider",
    "LoginRoleProvider",
    "PooledMembershipProvider",
    "PostgresProvider",
    "Props",
    "SharedPlatformProvider",
    "SiloDatabaseProvider",
    "connect",
    "exists",
    "provisioning_lock",
]
