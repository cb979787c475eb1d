-- # copy.sql / copy2.sql: COPY is refused in every direction and form.
-- expect: refuse
COPY sales.orders TO STDOUT

COPY sales.orders (id, status) TO STDOUT WITH (FORMAT csv, HEADER)

COPY (SELECT * FROM sales.orders WHERE id < 3) TO STDOUT

COPY sales.orders TO '{pwn}_copy_file'

COPY sales.orders TO PROGRAM 'touch {pwn}_copy_prog'

COPY (SELECT 1) TO PROGRAM 'cat > {pwn}_copy_prog2'

COPY sales.orders FROM STDIN

COPY sales.orders FROM STDIN WITH (FORMAT csv, FREEZE)

COPY sales.orders FROM '/etc/hostname'

COPY sales.orders FROM PROGRAM 'touch {pwn}_copy_from; echo'

COPY sales.orders FROM STDIN WHERE id > 0

COPY BINARY sales.orders TO STDOUT

COPY sales.orders TO STDOUT (FORMAT binary)

COPY (DELETE FROM sales.order_items RETURNING *) TO STDOUT

COPY (WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT * FROM d) TO STDOUT

copy sales.orders to stdout

SELECT 1; COPY sales.orders TO PROGRAM 'touch {pwn}_copy_multi'
