"""The ``--demo`` room's catalog: a few products, as data (``product.add`` commands).

The server loads them through ``Venue.handle_as_server`` (a server-only, journaled entry
point), so the demo shop is in the room's history like any product a host adds. Images are
small SVGs bundled with the web client (``clients/web/img/demo/``); prices are in halalas.
"""

from __future__ import annotations

from voiceroom.commerce.commands import AddProduct

DEMO_PRODUCTS: tuple[AddProduct, ...] = (
    AddProduct(
        "abaya-gold",
        {"en": "Embroidered abaya, gold trim", "ar": "عباءة مطرزة بحواف ذهبية"},
        34900,
        "SAR",
        60,
        image="/img/demo/abaya.svg",
        url="https://shop.example.com/p/abaya-gold",
        options=["S", "M", "L", "XL"],
    ),
    AddProduct(
        "oud-50",
        {"en": "Royal oud perfume, 50 ml", "ar": "عطر العود الملكي، 50 مل"},
        49500,
        "SAR",
        100,
        image="/img/demo/oud.svg",
        url="https://shop.example.com/p/oud-50",
    ),
    AddProduct(
        "watch-classic",
        {"en": "Classic gold watch", "ar": "ساعة ذهبية كلاسيكية"},
        129900,
        "SAR",
        25,
        image="/img/demo/watch.svg",
        url="https://shop.example.com/p/watch-classic",
    ),
)
