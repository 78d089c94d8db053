"""The sources layer's store: the only code of the layer that talks to PostgreSQL.

``tables`` (one REST resource: watermark, COPY or staging + upsert, quarantine, in one
transaction), ``deletions`` (/v1/deletions into erasure_requests), ``xapi`` (LRS statements into
the raw tables). The HTTP clients (``sources/client.py``, ``sources/xapi_client.py``) and the
pure contract/validation modules beside them know nothing of the database.
"""
