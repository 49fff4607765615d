"""Admin pages for signing up, logging in and out, and picking or creating a project."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from webapi.admin.common import bp, check_anonymous_csrf, flash_error, safe_next
from webapi.auth.caller import require_user
from webapi.auth.sessions import end_sessions, start_session
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.services.accounts import authenticate, check_signup, create_user, normalise_email
from webapi.services.invitations import invitations_for
from webapi.services.projects import create_project, projects_of


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Log in with email and password; throttled by the same DB counter as the API."""
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("admin/login.html", next=nxt, email="")
    check_anonymous_csrf()
    email_raw = request.form.get("email", "")
    try:
        email = normalise_email(email_raw)
        user = authenticate(email, request.form.get("password", ""))
    except HttpError as exc:
        db.session.rollback()
        headers = exc.headers if exc.status == 429 else {}
        page = render_template("admin/login.html", next=nxt, email=email_raw, error=exc.detail)
        return page, exc.status if exc.status in (400, 401, 429) else 400, headers
    start_session(user)
    return redirect(nxt)


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Create an account and sign straight in (on a closed server: an invited email only)."""
    closed = not current_app.config["SIGNUP_OPEN"]
    if request.method == "GET":
        return render_template("admin/signup.html", email="", closed=closed)
    check_anonymous_csrf()
    email_raw = request.form.get("email", "")
    try:
        email = normalise_email(email_raw)
        check_signup(email)
        password = request.form.get("password", "")
        if password != request.form.get("confirm", password):
            raise HttpError(400, "The two passwords differ.")
        user = create_user(email, password)
    except HttpError as exc:
        db.session.rollback()
        page = render_template("admin/signup.html", email=email_raw, error=exc.detail,
                               closed=closed)
        return page, exc.status
    start_session(user)
    if invitations_for(user.email):
        flash("Welcome to promptsync. Accept your invitation below to join its project.",
              "success")
    else:
        flash("Welcome to promptsync. Create a project to start.", "success")
    return redirect(url_for("admin.projects"))


@bp.post("/logout")
def logout() -> Any:
    """End every copy of this user's session."""
    principal = require_user()
    end_sessions(principal.user_id)
    flash("You are logged out.", "success")
    return redirect(url_for("admin.login"))


@bp.get("/")
def projects() -> Any:
    """The project picker with the user's role in each, and a form to create one."""
    principal = require_user()
    return render_template("admin/projects.html", projects=projects_of(principal),
                           invitations=invitations_for(principal.email), form={})


@bp.post("/projects")
def new_project() -> Any:
    """Create a project (the creator becomes its admin) and open it."""
    principal = require_user()
    slug = request.form.get("slug", "").strip()
    name = request.form.get("name", "").strip() or None
    try:
        create_project(principal.user_id, principal.actor, slug, name)
    except HttpError as exc:
        flash_error(exc)
        page = render_template("admin/projects.html", projects=projects_of(principal),
                               invitations=invitations_for(principal.email),
                               form={"slug": slug, "name": name or ""})
        return page, exc.status
    flash(f"Project '{slug}' created; you are its admin.", "success")
    return redirect(url_for("admin.prompt_list", p=slug))
