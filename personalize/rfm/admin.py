"""The RFM report in the admin: the latest run's heat map and segment table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from personalize.admin_pages import ReadOnlyAdmin
from personalize.analytics.summary import last_days, revenue_by_rfm_segment
from personalize.conf import settings
from personalize.rfm.models import RFMReport
from personalize.rfm.report import build_report

if TYPE_CHECKING:
    _RFMReportAdminBase = admin.ModelAdmin[RFMReport]
else:
    _RFMReportAdminBase = admin.ModelAdmin

__all__ = ["RFMReportAdmin"]

#: Earlier runs listed under the report.
HISTORY = 12
#: The revenue column covers this many days up to today.
REVENUE_DAYS = 30


class RFMReportAdmin(ReadOnlyAdmin, _RFMReportAdminBase):
    """Read-only: reports are written by ``manage.py personalize_rfm``.

    The change list *is* the report (the latest run, or ``?report=<id>``).
    """

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        reports = RFMReport.objects.order_by("-created_at", "-pk")
        wanted = request.GET.get("report", "")
        report = None
        if wanted.isdigit():
            report = reports.filter(pk=int(wanted)).first()
        if report is None:
            report = reports.first()
        revenue = revenue_by_rfm_segment(last_days(REVENUE_DAYS)) if report is not None else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "RFM report",
            "view": build_report(report, revenue) if report is not None else None,
            "revenue_days": REVENUE_DAYS,
            "currency": settings.CURRENCY,
            "history": list(reports[:HISTORY]) if report is not None else [],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "personalize/admin/rfm_report.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # One report is the report page showing that run.
        url = reverse(f"{self.admin_site.name}:personalize_rfmreport_changelist")
        return HttpResponseRedirect(f"{url}?report={object_id if object_id.isdigit() else ''}")
