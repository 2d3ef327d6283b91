"""The tenant data model: one user-owned schema file, its recorded versions, and migrations between them.

One module per job:

- :mod:`~paybill_infra.datamodel.source`: load and validate the schema file (an ``agent_acl`` ``DataSchema``
  plus ``renamed_from``), its content hash;
- :mod:`~paybill_infra.datamodel.versions`: the registry's record of each version and of each unit's version;
- :mod:`~paybill_infra.datamodel.changes`: **the schema diff** between two versions, classified
  expand/contract, and the refusals (destructive without the flag, rename without expand, uncastable types);
- :mod:`~paybill_infra.datamodel.render`: a diff rendered as SQL for one unit of one topology;
- :mod:`~paybill_infra.datamodel.apply`: the fleet's units and the one function that migrates one unit;
- :mod:`~paybill_infra.datamodel.backup`: the export before a destructive step, and its restore.
"""
