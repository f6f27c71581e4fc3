"""Server-rendered pages: the timetable behind a key, a room\x27s public page, the landing page, the widget."""
