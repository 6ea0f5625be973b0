"""Mon image de profil: upload a picture, choose between it and the Google picture, serve it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SubmitField
from wtforms.fields.choices import SelectChoice

from clusterpbx.control import audit
from clusterpbx.control.images import ImageRejected, clean_profile_image
from clusterpbx.control.models import utcnow

from ..db import get_db

bp = Blueprint("profile", __name__, url_prefix="/profile")


class UploadForm(FlaskForm):
    image = FileField(validators=[FileRequired()])
    upload = SubmitField()


class ChoiceForm(FlaskForm):
    source = RadioField(choices=[SelectChoice("uploaded"), SelectChoice("google")])
    apply = SubmitField()


def rejection_message(code: str) -> str:
    return {
        "empty": _("The file is empty."),
        "too_large": _("The file is too large (5 MB at most)."),
        "too_many_pixels": _("The image has too many pixels (24 megapixels at most)."),
        "format": _("This file is not an image in an accepted format (PNG, JPEG, GIF or WebP)."),
    }.get(code, _("This image cannot be used."))


@bp.route("/", methods=["GET"])
@login_required
def index() -> Any:
    user = current_user.user
    choice = ChoiceForm(source=user.picture_source or "uploaded")
    return render_template("profile/index.html", upload_form=UploadForm(), choice_form=choice, user=user)


@bp.route("/upload", methods=["POST"])
@login_required
def upload() -> Any:
    form = UploadForm()
    user = current_user.user
    if not form.validate_on_submit():
        flash(_("Choose an image file to upload."), "error")
        return render_template("profile/index.html", upload_form=form, choice_form=ChoiceForm(), user=user), 400
    data = form.image.data.read(current_app.config["CLUSTERPBX"].max_upload_bytes + 1)
    try:
        clean = clean_profile_image(data, max_bytes=current_app.config["CLUSTERPBX"].max_upload_bytes)
    except ImageRejected as exc:
        flash(rejection_message(exc.code), "error")
        return render_template("profile/index.html", upload_form=form, choice_form=ChoiceForm(), user=user), 400
    before = {"picture_source": user.picture_source, "uploaded_picture": audit.HIDDEN}
    user.uploaded_picture = clean.data
    user.picture_source = "uploaded"
    user.picture_updated_at = utcnow()
    audit.user_change(get_db(), user, "profile_picture", before,
                      {"picture_source": user.picture_source, "uploaded_picture": audit.SECRET_CHANGED})
    get_db().commit()
    flash(_("Your profile picture was updated."), "success")
    return redirect(url_for("profile.index"))


@bp.route("/choose", methods=["POST"])
@login_required
def choose() -> Any:
    form = ChoiceForm()
    user = current_user.user
    if not form.validate_on_submit():
        flash(_("Choose which picture to use."), "error")
        return redirect(url_for("profile.index"))
    if form.source.data == "google" and not user.google_picture:
        flash(_("Your Google picture is available once you have signed in with Google at least once."), "error")
        return redirect(url_for("profile.index"))
    if form.source.data == "uploaded" and not user.uploaded_picture:
        flash(_("Upload a picture first."), "error")
        return redirect(url_for("profile.index"))
    before = {"picture_source": user.picture_source}
    user.picture_source = form.source.data
    audit.user_change(get_db(), user, "profile_picture", before, {"picture_source": user.picture_source})
    get_db().commit()
    flash(_("Your profile picture was updated."), "success")
    return redirect(url_for("profile.index"))


def _image_response(data: bytes | None) -> Response:
    if not data:
        abort(404)
    resp = Response(data, mimetype="image/png")
    resp.headers["Cache-Control"] = "private, no-cache"
    resp.headers["Content-Disposition"] = "inline"
    return resp


@bp.route("/picture/<int:user_id>")
@login_required
def picture(user_id: int) -> Response:
    # Only the owner; 404 rather than 403 so ids reveal nothing.
    if user_id != current_user.user.id:
        abort(404)
    return _image_response(current_user.user.picture)


@bp.route("/picture/<int:user_id>/<source>")
@login_required
def picture_source(user_id: int, source: str) -> Response:
    if user_id != current_user.user.id or source not in ("uploaded", "google"):
        abort(404)
    user = current_user.user
    return _image_response(user.uploaded_picture if source == "uploaded" else user.google_picture)
