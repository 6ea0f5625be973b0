"""Desk-phone and softphone provisioning: vendor configuration files rendered from the database
(`render`), one module per vendor (`vendors`), HTTP Digest for the fetch (`digest`) and the CLI (`cli`)."""
