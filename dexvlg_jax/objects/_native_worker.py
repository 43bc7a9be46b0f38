"""The child side of `isolation.call_isolated`: run one step function in a fresh interpreter, pickle the outcome.

Started as `python -c <boot> <this file> <request> <response>`; this file is executed by path, not imported as
part of the package, and imports only the standard library at the top, so the worker starts fast (~0.1 s) and
never imports JAX. The request file holds two pickles: a header (sys.path, module, qualname, light) read first,
then (args, kwargs), unpickled only after the header's sys.path is in place. The response file (written to a
temporary name, then renamed) holds ("ok", result) or ("error", description of the exception). A crash leaves
no response: the parent reads the exit status (negative: the signal).

`light`: the step's module needs none of `dexvlg_jax.objects/__init__.py` (which imports JAX through the object
containers), so the package is registered without running its __init__ and only the step's own module loads.
"""
import os
import pickle
import sys
import traceback
import types


def _register_light_package(package: str) -> None:
    """Put `package` (e.g. "dexvlg_jax.objects") in sys.modules without executing its __init__.py."""
    if package in sys.modules:
        return
    parent_name, _, child_name = package.rpartition(".")
    parent = __import__(parent_name, fromlist=["__name__"])  # dexvlg_jax itself is light
    module = types.ModuleType(package)
    module.__path__ = [os.path.join(os.path.dirname(parent.__file__), child_name)]
    module.__package__ = package
    sys.modules[package] = module
    setattr(parent, child_name, module)


def _resolve(module_name: str, qualname: str):
    import importlib

    target = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _describe(error: BaseException) -> dict:
    try:
        pickled = pickle.dumps(error)
        pickle.loads(pickled)  # exceptions with custom __init__ signatures may not round-trip
    except Exception:  # noqa: BLE001 - any pickling failure: fall back to the text
        pickled = None
    return {"type": f"{type(error).__module__}.{type(error).__qualname__}", "message": str(error),
            "source": getattr(error, "source", None), "reason": getattr(error, "reason", None),
            "object_error": type(error).__name__ == "ObjectError" or any(
                cls.__name__ == "ObjectError" for cls in type(error).__mro__),
            "traceback": "".join(traceback.format_exception(error)), "pickled": pickled}


def _no_core_files() -> None:
    """A step that crashes on purpose or by bug should not leave a core file in the user's folder."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass


def main(request_path: str, response_path: str) -> None:
    _no_core_files()
    with open(request_path, "rb") as f:
        sys_path, module_name, qualname, light = pickle.load(f)
        sys.path[:0] = [p for p in sys_path if p not in sys.path]
        if light:
            _register_light_package(module_name.rpartition(".")[0])
        try:
            function = _resolve(module_name, qualname)
            args, kwargs = pickle.load(f)
            outcome = ("ok", function(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
            outcome = ("error", _describe(error))
    temporary = response_path + ".tmp"
    with open(temporary, "wb") as f:
        pickle.dump(outcome, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, response_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
