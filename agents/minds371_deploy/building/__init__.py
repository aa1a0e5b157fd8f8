"""Building a deployment's image from source: ``repo_url`` → clone → build → push → digest.

One concept per module: :mod:`.source` (which repository URLs and branch names are accepted),
:mod:`.commands` (build commands as argv), :mod:`.config` (operator settings), :mod:`.runner`
(a bounded subprocess), :mod:`.git` (the clone), :mod:`.builder` (podman, buildah or docker),
:mod:`.registry` (digests from the registry API), :mod:`.credentials` (private registry
logins), :mod:`.pipeline` (the journaled steps) and :mod:`.step` (the agent's step).

Nothing is imported here: validating a request needs only :mod:`.source` and :mod:`.commands`.
"""
