"""The writer process: hot-path batched writes applied off the worker's GIL (``storage.offload``).

Modules:
  link     the worker's side: ``open_writer`` spawns and supervises the process, ``WriterLink.apply``
  process  the writer's side: ``python -m storage.writer --fd N`` (asyncio, its own asyncpg pool)
  frames   length-prefixed frames on the socket pair; bodies are pickles of primitives only
  units    the units a writer may run, by name
  errors   ``WriterUnavailableError`` (``Database`` then applies the group in process)
"""
