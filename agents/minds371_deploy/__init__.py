"""minds371_deploy: the DeploymentAgent and its actions."""

from minds371_deploy._plugin import plugin

__all__ = ["plugin"]
