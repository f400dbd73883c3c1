"""Flask application factory: API, desk and error handling as blueprints; no work at import."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from flask_smorest import Api

from hashedge.bootstrap import Runtime, bootstrap
from hashedge.web.api.schemas import DecimalInput, ErrorSchema, PlainDecimal


def create_app(runtime: Runtime | None = None, test_config: dict | None = None) -> Flask:
    runtime = runtime or bootstrap(create_database=False)  # the web app never creates a database
    app = Flask(__name__, instance_path=str(runtime.settings.instance_dir))
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        API_TITLE="HashEdge API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["hashedge"] = runtime

    from hashedge.web import caching, edge, errors
    from hashedge.web.desk import init_desk
    from hashedge.web.api import accounts as accounts_api
    from hashedge.web.api import backstop as backstop_api
    from hashedge.web.api import docs as api_docs
    from hashedge.web.api import governance as governance_api
    from hashedge.web.api import indices as indices_api
    from hashedge.web.api import liquidation as liquidation_api
    from hashedge.web.api import protection as protection_api
    from hashedge.web.api import trading as trading_api

    api = HashEdgeApi(app, spec_kwargs={"info": {"description": "Bitcoin hashrate indices, fixings and "
                                         "derivatives. Amounts in satoshis; units in field names."}})
    api.register_field(PlainDecimal, "string", "decimal")  # exact decimals travel as text
    api.register_field(DecimalInput, None, None)  # text or number: documented by its own anyOf
    api.register_blueprint(indices_api.blp, url_prefix="/api/v1")
    api.spec.components.security_scheme(accounts_api.BEARER_SCHEME, accounts_api.BEARER_SCHEME_SPEC)
    api.register_blueprint(accounts_api.blp, url_prefix="/api/v1")
    api.register_blueprint(trading_api.market_blp, url_prefix="/api/v1")
    api.register_blueprint(trading_api.blp, url_prefix="/api/v1")
    api.register_blueprint(liquidation_api.blp, url_prefix="/api/v1")
    api.register_blueprint(liquidation_api.fund_blp, url_prefix="/api/v1")
    api.register_blueprint(backstop_api.pool_blp, url_prefix="/api/v1")
    api.register_blueprint(backstop_api.lp_blp, url_prefix="/api/v1")
    api.register_blueprint(backstop_api.offers_blp, url_prefix="/api/v1")
    api.register_blueprint(governance_api.public_blp, url_prefix="/api/v1")
    api.register_blueprint(governance_api.blp, url_prefix="/api/v1")
    api.register_blueprint(protection_api.blp, url_prefix="/api/v1")
    app.register_blueprint(api_docs.bp)
    init_desk(app)
    edge.register(app)
    errors.register(app)
    caching.register(app)  # registered last, runs first: the edge's no-store has the last word

    @app.get("/")
    def home():
        return redirect(url_for("desk.home"))

    @app.teardown_appcontext
    def _no_leaks(_exc):  # sessions live inside units of work; nothing to tear down per request
        return None

    return app


class HashEdgeApi(Api):
    """flask-smorest's Api documenting the error body this app really sends (web/errors.py)."""

    ERROR_SCHEMA = ErrorSchema


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["hashedge"]
