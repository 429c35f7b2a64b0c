"""Entry point of the Altaviz Spark job definitions on Microsoft Fabric.

Fabric runs this file with the job's command-line arguments. It turns the deployment's
settings into the environment variables Altaviz reads, resolves secrets from Key Vault, then
runs the ``altaviz`` command line with everything after ``--``::

    altaviz_job.py --key-vault https://kv.vault.azure.net/ \
        --secret EVENTHUB_CONNECTION_STRING=eventhub-listen-connection-string \
        --env FABRIC_WORKSPACE_ID=<guid> -- pipeline --skip-ml --json

Secrets never appear in the job definition: only their names do.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Split the job's arguments into its own options and the ``altaviz`` arguments."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="altaviz_job.py", description=__doc__)
    parser.add_argument("--key-vault", help="Key Vault URI the secrets are read from.")
    parser.add_argument(
        "--secret", type=_assignment, action="append", default=[], metavar="VAR=SECRET_NAME"
    )
    parser.add_argument("--env", type=_assignment, action="append", default=[], metavar="VAR=VALUE")
    options = parser.parse_args(argv[:cut])
    if options.secret and not options.key_vault:
        parser.error("--secret needs --key-vault")
    return options, argv[cut + 1 :]


def key_vault_reader(vault: str) -> Callable[[str], str]:
    """Read secrets as the job's identity: Fabric's notebookutils on Fabric, else the Azure SDK."""
    try:
        from notebookutils import credentials  # type: ignore[import-not-found]

        return lambda name: credentials.getSecret(vault, name)
    except ImportError:
        pass
    try:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
    except ImportError as exc:
        raise SystemExit(
            "altaviz_job.py: reading Key Vault outside Fabric needs azure-identity and "
            "azure-keyvault-secrets"
        ) from exc
    client = SecretClient(vault_url=vault, credential=DefaultAzureCredential())
    return lambda name: client.get_secret(name).value or ""


def main(argv: Sequence[str] | None = None) -> int:
    options, cli_args = parse(sys.argv[1:] if argv is None else argv)
    os.environ.update(dict(options.env))
    if options.secret:
        read = key_vault_reader(options.key_vault)
        os.environ.update({var: read(name) for var, name in options.secret})
    from altaviz.cli import app

    try:
        app(args=cli_args, prog_name="altaviz")
    except SystemExit as exc:  # the CLI's own exit code (1: quality held dates back)
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
