"""URLs of the staff part: `pages` under /, `api` under /api/v1/."""

from django.urls import URLPattern, path

from permits.api import staff as api_staff
from permits.views import staff as views

pages: list[URLPattern] = [
    path("staff/", views.staff_list, name="staff-list"),
    path("staff/import/", views.staff_import_page, name="staff-import"),
    path("staff/export.xlsx", views.staff_export, name="staff-export"),
    path("staff/template.xlsx", views.staff_template, name="staff-template"),
    path("staff/<int:pk>/", views.staff_edit, name="staff-edit"),
    path("staff/<int:pk>/delete/", views.staff_delete_page, name="staff-delete"),
]
api: list[URLPattern] = [
    path("staff/", api_staff.StaffListView.as_view(), name="api-staff-list"),
    path("staff/import/", api_staff.StaffImportView.as_view(), name="api-staff-import"),
]
