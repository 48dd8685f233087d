"""HTTP for every call to an authorization server, one concept per module:

- `transport`: `Transport`, the call rules (timeouts, retries, redirects, the size bound, error mapping);
- `connections`: the sessions requests go out on, one per TLS configuration and thread (`SessionPool`,
  `build_ssl_context`), whose connections check the address they reached;
- `endpoints`: which URLs and addresses a request may go to (`check_endpoint`, the SSRF rule, `same_origin`);
- `values`: the plain values calls are made of (`TlsSettings`, `RetryPolicy`, `HttpResponse`, `FormData`,
  `parse_json_object`), free of I/O.

A package rather than one module because these change for different reasons: the address rules with what SSRF
must refuse, the connections with urllib3's and requests' internals, the call rules with the protocol, the values
with their callers. Imports point down, in the order listed (the "http" contract in pyproject.toml; `endpoints` and
`values` are independent). Nothing is re-exported here: callers import a name from the module that owns it, so a
reader sees the owner.
"""
