"""App packages: methods, job types and hooks an app's own package adds to the sidecar.

``registration`` holds :class:`App`, what an app's ``register(app)`` is given;
``loader`` finds the packages (baked into a binary, named on the command line, or the
installed ``sidecar.apps`` entry points) and calls them before READY. App packages
import only :mod:`sidecar.sdk`.
"""
