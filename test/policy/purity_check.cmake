# Fails when a file under policy/ includes anything but the C++ standard library or policy/
# itself, or when policy/CMakeLists.txt links a library. Run: cmake -DPOLICY_DIR=... -P this.
set(STD_HEADERS
  algorithm any array atomic bit bitset cassert cctype cerrno cfloat charconv chrono cinttypes
  climits cmath compare concepts condition_variable cstddef cstdint cstdio cstdlib cstring
  ctime deque exception functional initializer_list iomanip ios iosfwd iostream istream
  iterator limits list map memory mutex new numeric optional ostream queue random ranges ratio
  set shared_mutex span sstream stack stdexcept string string_view system_error tuple
  type_traits typeinfo unordered_map unordered_set utility variant vector version)
file(GLOB_RECURSE FILES ${POLICY_DIR}/*.h ${POLICY_DIR}/*.cc)
set(BAD "")
foreach(f ${FILES})
  file(STRINGS ${f} LINES REGEX "^[ \t]*#[ \t]*include")
  foreach(line ${LINES})
    if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
      if(NOT CMAKE_MATCH_1 MATCHES "^policy/")
        list(APPEND BAD "${f}: ${line}")
      endif()
    elseif(line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
      list(FIND STD_HEADERS "${CMAKE_MATCH_1}" idx)
      if(idx EQUAL -1)
        list(APPEND BAD "${f}: ${line}")
      endif()
    endif()
  endforeach()
endforeach()
file(READ ${POLICY_DIR}/CMakeLists.txt CML)
if(CML MATCHES "target_link_libraries")
  list(APPEND BAD "policy/CMakeLists.txt links a library; policy must link the standard library only")
endif()
if(BAD)
  list(JOIN BAD "\n  " MSG)
  message(FATAL_ERROR "policy/ must stay pure (standard library only):\n  ${MSG}")
endif()
message(STATUS "policy/ is pure: ${CMAKE_MATCH_COUNT} checked")
