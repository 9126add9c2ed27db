from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from policies.api.serializers import PolicySerializer, patched
from policies.selectors import get_policy, policies_for
from policies.services import (
    BuiltinPolicyReadOnly,
    create_policy,
    delete_policy,
    policy_defaults,
    update_policy,
)
from verifyai.api.views import ApiView, IdempotentCreateView


class PolicyListView(IdempotentCreateView):
    serializer_class = PolicySerializer

    def get(self, request: Request) -> Response:
        policies = policies_for(request.user)
        return Response({"data": PolicySerializer(policies, many=True).data})

    def create(self, request: Request) -> Response:
        serializer = PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = create_policy(customer=request.user, data=serializer.validated_data)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailView(ApiView):
    serializer_class = PolicySerializer

    def get(self, request: Request, policy_id: str) -> Response:
        return Response(PolicySerializer(get_policy(request.user, policy_id)).data)

    def patch(self, request: Request, policy_id: str) -> Response:
        return self._update(request, policy_id, partial=True)

    def put(self, request: Request, policy_id: str) -> Response:
        return self._update(request, policy_id, partial=False)

    def delete(self, request: Request, policy_id: str) -> Response:
        delete_policy(policy=get_policy(request.user, policy_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, policy_id: str, *, partial: bool) -> Response:
        policy = get_policy(request.user, policy_id)
        if policy.is_builtin:  # read-only whatever the body says, valid or not
            raise BuiltinPolicyReadOnly()
        # Either way the whole resulting policy is validated, as on create: PATCH lays the
        # body over the stored policy, PUT replaces it (omitted fields take their defaults).
        body = patched(policy, request.data) if partial else request.data
        serializer = PolicySerializer(policy, data=body)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if not partial:
            data = {**policy_defaults(), **data}
        policy = update_policy(policy=policy, data=data)
        return Response(PolicySerializer(policy).data)
