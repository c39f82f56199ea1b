"""The desktop window (PySide6): it presents the library and schedules work; what the work does lives in the core.

Owns the window shell (:mod:`main_window`) and its pages and actions, the panels, the dialogs, the job queue
(:mod:`job_queue`, long jobs) and the short background calls (:mod:`background_calls`), both driven by
:mod:`workers`. May import ``ented_desktop.core``; nothing outside ``gui`` imports it but the entry point.
"""
