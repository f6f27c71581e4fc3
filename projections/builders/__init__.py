"""Pure builders: rows (:mod:`projections.rows`) in, encoded documents out (no I/O).

One module per read model: ``resources`` (tree nodes, a resource's events), ``calendar`` (the
merged calendar of a selection), ``ics`` (its feed), ``selections`` (user and access documents);
``document`` is what they all produce.
"""
