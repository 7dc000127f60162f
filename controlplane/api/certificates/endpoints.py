"""Certificate endpoints: /api/v1/certificates."""

from controlplane.api.certificates import service
from controlplane.api.crud.endpoints import crud_router

router = crud_router(
    service.resources,
    create_rule="The chain and its unencrypted private key must match and load (422). The "
    "key is stored, sent to the Envoys of the listeners that present it (SDS), and never "
    "returned. Replacing a certificate rotates it without draining any listener.",
    delete_rule="Refused while a listener presents it.",
)
