"""Deployment half of the demo (export, OpenVINO, streaming, parity); filled in as those land."""


def deploy_steps(console, output, student, test):
    console.print("[dim]deployment steps: not available yet[/]")
