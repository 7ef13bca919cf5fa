"""PhoneBurner lead relay: receives leads from forms and tools, delivers them to put_contact.

The package imports nothing at load time, so that `python -m app` commands and
the simulator start fast; `app.factory.create_app` builds the web app.
"""

__version__ = "0.1.0"
