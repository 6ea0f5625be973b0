"""Mon image de profil: content-judged uploads, bombs refused, metadata stripped, owner-only serving."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from clusterpbx.control.images import ImageRejected, clean_profile_image


def png_bytes(size=(300, 200), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (640, 480), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x010E] = "home at 45.50N 73.56W"  # ImageDescription
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def png_bomb(width=30000, height=30000) -> bytes:
    """A tiny PNG whose header claims 900 megapixels (decompressed data would be enormous)."""
    raw = zlib.compress(b"\x00" * (1 + width // 8) * 16, 9)  # a few rows are enough to look real

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def upload(client, auth, data: bytes, filename: str):
    token = auth.csrf("/profile/")
    return client.post("/profile/upload", data={"csrf_token": token, "image": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def login(client, auth, world):
    user = world.user(world.tenant())
    auth.login(user.email)
    return user


def test_profile_page_matches_guide(client, auth, world):
    login(client, auth, world)
    html = client.get("/profile/").get_data(as_text=True)
    for text in ("Téléverser une nouvelle image de profil", "Image à téléverser:", "Mettre en ligne",
                 "Quelle image souhaitez-vous utiliser en image de profil?", "Mon image téléversée",
                 "Mon image de profil Google", "Appliquer"):
        assert text in html
    # The Google choice is greyed out until Google login exists.
    assert 'value="google"  disabled aria-disabled="true"' in html or 'value="google" disabled' in html


def test_valid_png_is_stored_as_square_png(client, auth, world, db):
    user = login(client, auth, world)
    resp = upload(client, auth, png_bytes(), "me.png")
    assert resp.status_code == 302
    db.refresh(user)
    img = Image.open(io.BytesIO(user.uploaded_picture))
    assert img.format == "PNG" and img.size == (256, 256)
    served = client.get(f"/profile/picture/{user.id}")
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.data == user.uploaded_picture


def test_valid_jpeg_loses_its_metadata(client, auth, world, db):
    user = login(client, auth, world)
    original = jpeg_with_exif()
    assert b"SecretCam" in original
    assert upload(client, auth, original, "photo.jpeg").status_code == 302
    db.refresh(user)
    assert b"SecretCam" not in user.uploaded_picture
    img = Image.open(io.BytesIO(user.uploaded_picture))
    assert not img.getexif() and "exif" not in img.info


def test_png_renamed_jpg_is_accepted_by_content(client, auth, world, db):
    user = login(client, auth, world)
    assert upload(client, auth, png_bytes(), "holiday.jpg").status_code == 302
    db.refresh(user)
    assert user.uploaded_picture is not None


def test_text_file_named_png_refused(client, auth, world, db):
    user = login(client, auth, world)
    resp = upload(client, auth, b"hello, I am not an image\n" * 10, "evil.png")
    assert resp.status_code == 400
    assert "pas une image dans un format accepté" in resp.get_data(as_text=True)
    db.refresh(user)
    assert user.uploaded_picture is None


def test_svg_refused(client, auth, world, db):
    user = login(client, auth, world)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
    assert upload(client, auth, svg, "logo.svg").status_code == 400
    db.refresh(user)
    assert user.uploaded_picture is None


def test_oversized_file_refused(client, auth, world, db):
    user = login(client, auth, world)
    big = png_bytes() + b"\x00" * (5 * 1024 * 1024 + 10)
    resp = upload(client, auth, big, "big.png")
    assert resp.status_code in (400, 413)
    assert "trop volumineux" in resp.get_data(as_text=True)
    db.refresh(user)
    assert user.uploaded_picture is None


def test_decompression_bomb_refused(client, auth, world, db):
    user = login(client, auth, world)
    bomb = png_bomb()
    assert len(bomb) < 100_000
    resp = upload(client, auth, bomb, "bomb.png")
    assert resp.status_code == 400
    assert "trop de pixels" in resp.get_data(as_text=True)
    db.refresh(user)
    assert user.uploaded_picture is None


def test_bomb_refused_by_domain_function_without_decoding():
    try:
        clean_profile_image(png_bomb())
    except ImageRejected as exc:
        assert exc.code == "too_many_pixels"
    else:
        raise AssertionError("bomb accepted")


def test_other_users_image_unreachable(app, client, auth, world):
    from tests.conftest import AuthActions

    tenant = world.tenant()
    owner = world.user(tenant)
    other = world.user(tenant)
    AuthActions(client).login(owner.email)
    upload(client, auth, png_bytes(), "me.png")
    assert client.get(f"/profile/picture/{owner.id}").status_code == 200
    intruder = app.test_client()
    AuthActions(intruder).login(other.email)
    assert intruder.get(f"/profile/picture/{owner.id}").status_code == 404
    assert intruder.get(f"/profile/picture/{owner.id}/uploaded").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/profile/picture/{owner.id}").status_code == 302  # to login


def test_choose_google_refused_until_google_login(client, auth, world, db):
    user = login(client, auth, world)
    upload(client, auth, png_bytes(), "me.png")
    token = auth.csrf("/profile/")
    resp = client.post("/profile/choose", data={"csrf_token": token, "source": "google"}, follow_redirects=True)
    assert "Connexion avec Gmail" in resp.get_data(as_text=True) or "Gmail" in resp.get_data(as_text=True)
    db.refresh(user)
    assert user.picture_source == "uploaded"
