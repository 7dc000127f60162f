"""What every named resource kind (listeners, services, routes, ...) shares: the service steps
of create, read, list, replace and delete, and the five endpoints that expose them. A kind's
own rules stay in its domain package."""
