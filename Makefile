# landguard — the two commands of the README are `make run` and `make test`.
.PHONY: run test lint db-start db-stop db-status psql bench bench-data schema clean

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh $(PYTEST_ARGS)

lint:
	@bash scripts/bootstrap.sh && .venv/bin/ruff check api schema geo migrations tests bench && .venv/bin/ruff format --check api schema geo migrations tests bench

db-start:
	@bash scripts/db.sh start

db-stop:
	@bash scripts/db.sh stop

db-status:
	@bash scripts/db.sh status

psql:
	@bash scripts/db.sh psql

bench-data:
	@bash scripts/bench.sh generate

bench:
	@bash scripts/bench.sh run

schema:
	@bash scripts/bootstrap.sh && .venv/bin/python -m api schema > schema.graphql

clean:
	@bash scripts/db.sh stop || true
	rm -rf .venv .pg api/static/graphiql
