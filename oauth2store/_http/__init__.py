"""HTTP for every call to an authorization server, one concept per module:

- `connections`: the sessions requests go out on, one per TLS configuration and thread (`SessionPool`,
  `build_ssl_context`), whose connections check the address they reached;
- `endpoints`: which URLs and addresses a request may go to (`check_endpoint`, the SSRF rule, `same_origin`);
- `values`: the plain values calls are made of (`TlsSettings`, `RetryPolicy`, `HttpResponse`, `FormData`,
  `parse_json_object`), free of I/O.

Nothing is re-exported here: callers import a name from the module that owns it, so a reader sees the owner.
"""
