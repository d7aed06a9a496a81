"""The project's own ServiceNow and Coverbase emulators, for tests, the demo and benchmarks.

Imports run one way. In the layers below, a module imports only from the lines above its own (and,
within a line, one way: ``coverbase_vendors`` uses ``coverbase_users``). ``tests/test_emulator_structure.py``
fails on an import cycle inside this package or on a module over 400 lines.

Shared helpers: ``fixtures`` (ids both sides agree on), ``faults`` (seeded fault rolls, token
bucket), ``server`` (uvicorn in a thread or as the CLI), ``multipart_stream``, ``sbom_parse``,
``big_sbom``.

Coverbase (``python -m connector.emulators.coverbase``)::

    coverbase_errors
    coverbase_state                       the state all store parts share
    coverbase_users, _vendors, _documents, _boms, _assessments, _findings, _progress, _webhooks
    coverbase_store                       the parts as one CoverbaseStore
    coverbase_http, coverbase_faults      handler context and paging; seeded faults
    coverbase_dispatch, coverbase_routes_*
    coverbase_app                         CoverbaseEmulator: the routes as one Starlette app
    coverbase                             the CLI

ServiceNow (``python -m connector.emulators.servicenow``)::

    sn_dataset_words, sn_dataset_model, sn_sboms   vocabulary, what a dataset is, real SBOM files
    sn_dataset_generator                  state and helpers of one dataset build
    sn_dataset_users, _vendors, _engagements, _attachments, _issues   the stages
    sn_dataset, dirty_cases_doc           build(); docs/dirty-cases.md
    sn_schema, sn_query, sn_acl, sn_responses, sn_faults
    sn_instance, sn_hostile               state and record operations; odd records mixed in
    sn_render
    sn_writes
    sn_gateway, sn_listing
    sn_table_api, sn_attachment_api, sn_oauth, sn_admin
    servicenow_app                        ServiceNowEmulator: the instance with its app
    servicenow                            the CLI
"""
