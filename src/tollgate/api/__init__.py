"""HTTP: routes (thin), request and response schemas, and the one error handler."""
