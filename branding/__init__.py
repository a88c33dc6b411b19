"""The site owner's brand: name, logo, accent colour and support email, from settings or
the admin, on every member page and email. Every app may read it; it imports only core."""
