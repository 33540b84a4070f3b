"""Every change this project makes to a library's internals, one module per patched library part.

Each module declares the library versions it was read against (``patch.Patch``) and checks them where the
patch is installed; on any other version it leaves the library's own behaviour in place and logs
``runtime.patch_skipped``. docs/patches.md says, per patch, what it changes, why, and how to remove it.

Nothing here imports this project's apps: the patches are about libraries, their callers are the apps.
"""
