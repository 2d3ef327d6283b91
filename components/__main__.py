"""Entry point of the ``paybill`` component package: hosts every cloud's pool and tenant for other languages.

Use it from a TypeScript, Go, .NET, Java or YAML program with ``pulumi package add <path to this directory>``.
The components and their schema come from :mod:`paybill_infra.clouds.package`; this file only starts the host.
"""

from pulumi.provider.experimental import component_provider_host

from paybill_infra.clouds.package import PACKAGE, hosted_components

if __name__ == "__main__":
    component_provider_host(hosted_components(), name=PACKAGE, namespace="paybill", version="0.1.0")
