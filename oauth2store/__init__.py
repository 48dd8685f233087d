"""oauth2store: a durable OAuth 2.0 / OpenID Connect client store, a port of InterSystems IRIS OAuth2.Client."""
